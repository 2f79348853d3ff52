'use strict';
// An OAuth-style token endpoint on 127.0.0.1 for the grant tests, the Node twin of
// tests/support/token_server.{hpp,cpp}: it records every request it gets and answers each with
// what the test set (an HTTP status and a JSON body). It runs on this process's event loop, which
// is free while addGrant() waits on a libuv worker for the connector's exchange.
const http = require('node:http');
const { once } = require('node:events');

async function tokenServer() {
  const requests = [];
  let answer = { status: 500, body: '{}' };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ method: req.method, path: req.url, headers: req.headers, body });
      res.writeHead(answer.status, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(answer.body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    /** What every request gets from now on: `body` as JSON (a string is sent as it is). */
    answer(status, body) { answer = { status, body: typeof body === 'string' ? body : JSON.stringify(body) }; },
    requests: () => [...requests],
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

module.exports = { tokenServer };
