'use strict';
// Drives the example over real HTTP: server.js in its own process (as `node sse/server.js` would
// run), Node's fetch reading the Server-Sent Events as they are sent, and the runs checked
// against the store, by another Host, once the server has exited.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const os = require('node:os');
const path = require('node:path');
const { Host } = require('runhost');

const SERVER = path.join(__dirname, 'server.js');
const BUILD_TEST_PLUGINS = path.join(__dirname, '..', '..', '..', 'bindings', 'common', 'test-plugins', 'build.py');
const TEST_TIMEOUT_MS = 120_000;
const WAIT_MS = 60_000; // for the server to print a line: generous, only so a hang says what it saw
// From SIGTERM (or SIGINT) to the process's exit, with browsers attached to runs still going: a
// deploy's or a Ctrl-C's patience, and less than the grace period of most process managers.
const STOP_MS = 2000;

// Waits for the test to let it go (a file `go` in the workspace): the run cannot end before the
// test has seen its first output through SSE, so receiving it proves events are streamed, not
// sent when the run ends. Then it writes a file, for a file.changed.
const GATED = ['sh', '-c',
  'read -r prompt; echo "got: $prompt"; while [ ! -e go ]; do sleep 0.02; done; '
  + 'echo "$prompt" > notes.txt; echo finished'];

// The example's process: its URL, its output, its exit.
class Server {
  constructor(proc) {
    this.proc = proc;
    this.stdout = '';
    this.stderr = '';
    this.url = null;
    this._waiters = new Set();
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (s) => { this.stdout += s; this._check(); });
    proc.stderr.on('data', (s) => { this.stderr += s; });
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        // Let the pipes drain, then fail whoever still waits for a line.
        setImmediate(() => { this._check(); resolve(this.exit); });
      });
    });
  }

  get output() { return `--- stdout\n${this.stdout}--- stderr\n${this.stderr}`; }

  _check() {
    for (const w of this._waiters) {
      const m = w.pattern.exec(this.stdout);
      if (m) w.resolve(m);
      else if (this.exit) w.reject(new Error(`the server exited (${JSON.stringify(this.exit)}) before printing ${w.pattern}\n${this.output}`));
      else continue;
      clearTimeout(w.timer);
      this._waiters.delete(w);
    }
  }

  /** Resolves with the match once stdout matches `pattern`. */
  waitFor(pattern) {
    return new Promise((resolve, reject) => {
      const w = { pattern, resolve, reject };
      w.timer = setTimeout(() => {
        this._waiters.delete(w);
        reject(new Error(`the server did not print ${pattern} in ${WAIT_MS} ms\n${this.output}`));
      }, WAIT_MS);
      this._waiters.add(w);
      this._check();
    });
  }

  /**
   * Sends `signal` and checks the shutdown was graceful and prompt: exit status 0 within
   * STOP_MS, the Host closed. Resolves with the milliseconds it took.
   */
  async stop(signal = 'SIGTERM') {
    const sent = performance.now();
    this.proc.kill(signal);
    const { code, signal: killedBy } = await this.exited;
    const ms = performance.now() - sent;
    assert.ok(ms < STOP_MS, `the server took ${ms.toFixed(0)} ms to exit after ${signal} (at most ${STOP_MS})\n${this.output}`);
    assert.equal(killedBy, null, `the server was killed by ${killedBy}\n${this.output}`);
    assert.equal(code, 0, `the server exited with ${code}\n${this.output}`);
    assert.match(this.stdout, new RegExp(`^${signal}: shutting down$`, 'm'), this.output);
    assert.match(this.stdout, /^closed$/m, this.output);
    return ms;
  }
}

let asksFirst = null;
/**
 * A directory holding the asks-first test policy (it asks before a run whose prompt holds
 * "[ask]"), compiled once per process by bindings/common/test-plugins/build.py.
 */
function asksFirstPlugin() {
  if (asksFirst) return asksFirst;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-sse-plugins-'));
  process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }));
  asksFirst = execFileSync('python3', [BUILD_TEST_PLUGINS, out], { encoding: 'utf8' }).trim();
  return asksFirst;
}

// `plugins`: a plugin directory for the server's RUNHOST_PLUGIN_PATH (else it has none).
async function startServer(t, { plugins } = {}) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'runhost-sse-'));
  t.after(() => fsp.rm(dir, { recursive: true, force: true }));
  const workspace = path.join(dir, 'workspace');
  await fsp.mkdir(workspace);
  const store = path.join(dir, 'runhost.db'); // outside the workspace: its writes are no file.changed
  const env = {
    ...process.env,
    RUNHOST_STORE: store,
    RUNHOST_WORKSPACE_ROOT: workspace,
    RUNHOST_EXAMPLE_COMMAND: JSON.stringify(GATED),
    HOST: '127.0.0.1',
    PORT: '0',
  };
  delete env.RUNHOST_PLUGIN_PATH;
  if (plugins) env.RUNHOST_PLUGIN_PATH = plugins;
  const server = new Server(spawn(process.execPath, [SERVER], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  t.after(() => { if (!server.exit) server.proc.kill('SIGKILL'); });
  const [, url] = await server.waitFor(/^listening on (http:\/\/\S+)$/m);
  server.url = url;
  return { server, url, store, workspace, go: () => fsp.writeFile(path.join(workspace, 'go'), '') };
}

/** SSE messages ({id, event, data}, the fields present) parsed as the bytes arrive. */
async function* sseMessages(body) {
  const decoder = new TextDecoder();
  let buffer = '';
  let message = {};
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (Object.keys(message).length > 0) yield message;
        message = {};
      } else if (!line.startsWith(':')) { // a comment otherwise
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        message[field] = field === 'data' && message.data !== undefined ? `${message.data}\n${value}` : value;
      }
    }
  }
  assert.equal(buffer, '', 'the stream ended in the middle of a line');
}

function postRun(url, body, headers = { 'content-type': 'application/json' }) {
  return fetch(`${url}/runs`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function postJson(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

async function getJson(url) {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}

// The stream of a run up to its first output line `text`; returns what came, and the response.
async function readUntilOutput(url, runId, text, init = {}) {
  const response = await fetch(`${url}/runs/${runId}/events`, init);
  assert.equal(response.status, 200);
  const messages = sseMessages(response.body);
  const received = [];
  for (;;) {
    const { value, done } = await messages.next();
    assert.ok(!done, `the stream ended before the output ${JSON.stringify(text)}: ${JSON.stringify(received)}`);
    received.push(value);
    if (value.event === 'command.output' && JSON.parse(value.data).payload.text === text) {
      return { response, messages, received };
    }
  }
}

async function storedRun(store, workspace, runId) {
  const reader = await Host.open({ store, workspaceRoot: workspace, useEnvironment: false });
  try {
    const run = await reader.run(runId);
    assert.ok(run, `the store has no run ${runId}`);
    return { info: run.info, events: await reader.events(runId) };
  } finally {
    await reader.close();
  }
}

test('a run streams to the browser as server-sent events', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url, store, workspace, go } = await startServer(t);

  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(await page.text(), /new EventSource\(/);

  const created = await postRun(url, { prompt: 'hello from the browser', submission_id: 's-1' });
  assert.equal(created.status, 201);
  const { run_id: runId, created: isNew, events_url: eventsUrl } = await created.json();
  assert.match(runId, /^run_/);
  assert.equal(isNew, true);
  assert.equal(eventsUrl, `/runs/${runId}/events`);
  const again = await postRun(url, { prompt: 'hello from the browser', submission_id: 's-1' });
  assert.equal(again.status, 201);
  assert.deepEqual(await again.json(), { run_id: runId, created: false, events_url: eventsUrl }, 'a resubmission is the same run');

  const response = await fetch(url + eventsUrl);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/event-stream/);
  assert.equal(response.headers.get('cache-control'), 'no-cache');
  const received = [];
  let released = false;
  for await (const message of sseMessages(response.body)) {
    received.push(message);
    if (message.event === 'command.output' && JSON.parse(message.data).payload.text === 'got: hello from the browser') {
      // The first output is here and the run is still going: it is held until now.
      const record = await getJson(`${url}/runs/${runId}`);
      assert.equal(record.status, 200);
      assert.equal(record.body.status, 'running');
      await go();
      released = true;
    }
  }
  assert.ok(released, `the first output never came: ${JSON.stringify(received)}`);
  assert.deepEqual(received.at(-1), { event: 'end', data: '{}' });
  const messages = received.slice(0, -1);
  const events = messages.map((m) => JSON.parse(m.data));
  assert.deepEqual(messages.map((m) => Number(m.id)), events.map((e) => e.seq));
  assert.deepEqual(events.map((e) => e.seq), Array.from(events, (_, i) => i + 1), 'ids are 1..n, none missing');
  assert.deepEqual(messages.map((m) => m.event), events.map((e) => e.type), 'event: is the type');
  assert.ok(events.every((e) => e.run_id === runId));
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'run.started');
  assert.equal(types.at(-1), 'run.completed');
  assert.equal(types.filter((type) => type.startsWith('run.')).length, 2, types.join(' '));
  assert.deepEqual(events.filter((e) => e.type === 'command.output').map((e) => e.payload.text),
    ['got: hello from the browser', 'finished']);
  assert.ok(events.some((e) => e.type === 'file.changed' && e.payload.path === 'notes.txt'), types.join(' '));

  const record = await getJson(`${url}/runs/${runId}`);
  assert.deepEqual(record, { status: 200, body: { id: runId, status: 'succeeded', error_code: null, last_seq: events.length } });

  // A reconnecting EventSource sends Last-Event-ID and gets the rest, nothing twice.
  const resumed = await fetch(url + eventsUrl, { headers: { 'Last-Event-ID': '2' } });
  const rest = [];
  for await (const message of sseMessages(resumed.body)) rest.push(message);
  assert.deepEqual(rest.at(-1), { event: 'end', data: '{}' });
  assert.deepEqual(rest.slice(0, -1).map((m) => JSON.parse(m.data)), events.slice(2));
  assert.deepEqual(rest.slice(0, -1).map((m) => Number(m.id)), events.slice(2).map((e) => e.seq));

  await server.stop('SIGTERM');

  // What the browser got is exactly what the store holds (read by another Host).
  const stored = await storedRun(store, workspace, runId);
  assert.equal(stored.info.status, 'succeeded');
  assert.deepEqual(stored.events, events);
});

test('bad requests and runhost errors are HTTP errors with a code', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url, store, workspace } = await startServer(t);

  for (const where of ['/runs/run_nope', '/runs/run_nope/events', '/nope']) {
    const r = await getJson(url + where);
    assert.equal(r.status, 404, where);
    assert.equal(r.body.code, 'not_found', where);
  }

  const badJson = await postRun(url, '{"prompt": ');
  assert.equal(badJson.status, 400);
  assert.equal((await badJson.json()).code, 'invalid_json');

  const invalid = [
    [{}, 'prompt', /prompt is required/],
    [{ prompt: 42 }, 'prompt', /prompt must be a string/],
    [{ prompt: '' }, 'prompt', /must not be empty/],
    [{ prompt: 'x'.repeat(100_001) }, 'prompt', /longer than 100000 characters/],
    [{ prompt: 'ok', submission_id: 7 }, 'submission_id', /must be a string/],
    [{ prompt: 'ok', submission_id: 'x'.repeat(201) }, 'submission_id', /longer than 200 bytes/],
    [['a prompt'], null, /must be a JSON object/],
  ];
  for (const [body, field, message] of invalid) {
    const r = await postRun(url, body);
    assert.equal(r.status, 422, JSON.stringify(body).slice(0, 60));
    const problem = await r.json();
    assert.equal(problem.code, 'invalid_request');
    assert.equal(problem.field, field);
    assert.match(problem.message, message);
  }

  const notJson = await postRun(url, 'prompt=hi', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(notJson.status, 415);
  const wrongMethod = await fetch(`${url}/runs`, { method: 'DELETE' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.get('allow'), 'POST');

  const first = await postRun(url, { prompt: 'one', submission_id: 'dup' });
  assert.equal(first.status, 201);
  const { run_id: runId } = await first.json();
  const conflict = await postRun(url, { prompt: 'two', submission_id: 'dup' });
  assert.equal(conflict.status, 409);
  const problem = await conflict.json();
  assert.equal(problem.code, 'idempotency_conflict');
  assert.equal(problem.retryable, false);
  assert.equal(problem.recovery?.action, 'fix_dispatch');
  assert.match(problem.message, new RegExp(runId));

  const badCursor = await fetch(`${url}/runs/${runId}/events`, { headers: { 'Last-Event-ID': 'yesterday' } });
  assert.equal(badCursor.status, 400);
  assert.equal((await badCursor.json()).code, 'invalid_last_event_id');

  // The run is still held at its gate: shutting down (SIGINT this time) cancels it, and the
  // store says so; a host that died instead would leave it to be recovered as device_lost.
  await server.stop('SIGINT');
  const stored = await storedRun(store, workspace, runId);
  assert.equal(stored.info.status, 'cancelled');
  assert.equal(stored.events.at(-1).type, 'run.cancelled');
});

test('a client that goes away mid-stream does not stop the run', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url, store, workspace, go } = await startServer(t);
  const { run_id: runId } = await (await postRun(url, { prompt: 'walk away' })).json();

  const controller = new AbortController();
  const { messages, received } = await readUntilOutput(url, runId, 'got: walk away', { signal: controller.signal });
  const lastSeen = Number(received.at(-1).id);
  await messages.return(); // the browser tab closes: the body is cancelled...
  controller.abort(); // ...and the request aborted

  // The server noticed, stopped following the run, and the run goes on: it is still held.
  await server.waitFor(new RegExp(`^events of ${runId}: the client went away after seq ${lastSeen}; the run goes on$`, 'm'));
  assert.equal((await getJson(`${url}/runs/${runId}`)).body.status, 'running');
  await go();

  // The browser comes back with the last id it got and sees the rest, up to the end.
  const response = await fetch(`${url}/runs/${runId}/events`, { headers: { 'Last-Event-ID': String(lastSeen) } });
  const rest = [];
  for await (const message of sseMessages(response.body)) rest.push(message);
  assert.deepEqual(rest.at(-1), { event: 'end', data: '{}' });
  const events = rest.slice(0, -1).map((m) => JSON.parse(m.data));
  assert.deepEqual(events.map((e) => e.seq), Array.from(events, (_, i) => lastSeen + 1 + i));
  assert.equal(events.at(-1).type, 'run.completed');
  assert.ok(events.some((e) => e.type === 'command.output' && e.payload.text === 'finished'));
  assert.equal((await getJson(`${url}/runs/${runId}`)).body.status, 'succeeded');

  await server.stop('SIGTERM');
  const stored = await storedRun(store, workspace, runId);
  assert.equal(stored.info.status, 'succeeded');
  assert.deepEqual(stored.events.slice(lastSeen), events);
});

test('another tenant\'s run is a 404, as an unknown one', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // The server acts as its tenant (host.forTenant): a run of another tenant, in the same store,
  // answers exactly as an unknown id does.
  const { url, store, workspace } = await startServer(t);
  const operator = await Host.open({ store, workspaceRoot: workspace, useEnvironment: false });
  try {
    const other = await operator.dispatch({
      tenantId: 'another-tenant', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd',
      runtime: 'custom', prompt: 'p', approvalPolicy: 'auto', idempotencyKey: 'theirs', command: ['true'],
    });
    await other.wait();
    for (const where of [`/runs/${other.id}`, `/runs/${other.id}/events`]) {
      const theirs = await getJson(url + where);
      const unknown = await getJson(url + where.replace(other.id, 'run_nope'));
      assert.equal(theirs.status, 404, where);
      assert.deepEqual(JSON.parse(JSON.stringify(theirs.body).replaceAll(other.id, '<id>')),
        JSON.parse(JSON.stringify(unknown.body).replaceAll('run_nope', '<id>')), where);
    }
  } finally {
    await operator.close();
  }
});

test('SIGTERM ends the open streams, closes the Host and exits 0', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url, store, workspace } = await startServer(t);
  const { run_id: runId } = await (await postRun(url, { prompt: 'still going' })).json();
  const { messages, received } = await readUntilOutput(url, runId, 'got: still going');

  const stopped = server.stop('SIGTERM'); // asserts the exit within STOP_MS
  // The stream ends, without `end`: the run has not ended, and a browser would reconnect later.
  for (;;) {
    const { value, done } = await messages.next();
    if (done) break;
    received.push(value);
  }
  assert.ok(received.every((m) => m.event !== 'end'), JSON.stringify(received));
  t.diagnostic(`SIGTERM with a browser following a running run: exited in ${(await stopped).toFixed(0)} ms`);

  const stored = await storedRun(store, workspace, runId);
  assert.equal(stored.info.status, 'cancelled');
  assert.equal(stored.events.at(-1).type, 'run.cancelled');
  assert.deepEqual(received.map((m) => JSON.parse(m.data)), stored.events.slice(0, received.length));
});

// The next runhost event of an SSE stream (sseMessages), parsed.
async function nextEvent(messages) {
  const { value, done } = await messages.next();
  assert.ok(!done, 'the stream ended');
  const event = JSON.parse(value.data);
  assert.equal(value.event, event.type);
  return event;
}

// The remaining events of a stream that ends with `end`, parsed.
async function restOf(messages) {
  const received = [];
  for await (const message of messages) received.push(message);
  assert.deepEqual(received.at(-1), { event: 'end', data: '{}' }, JSON.stringify(received));
  return received.slice(0, -1).map((m) => JSON.parse(m.data));
}

// Dispatches `prompt` (one the asks-first policy asks about) and reads its stream's first event.
async function askingRun(url, prompt) {
  const { run_id: runId } = await (await postRun(url, { prompt })).json();
  const response = await fetch(`${url}/runs/${runId}/events`);
  assert.equal(response.status, 200);
  const messages = sseMessages(response.body);
  const asked = await nextEvent(messages);
  assert.equal(asked.type, 'approval.required', JSON.stringify(asked));
  return { runId, messages, request: asked.payload };
}

test('a person allows a run from the page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url, go } = await startServer(t, { plugins: asksFirstPlugin() });
  await go(); // the command, once allowed, runs through
  const { runId, messages, request } = await askingRun(url, 'deploy to production [ask]');
  assert.equal(request.action.summary, 'start a custom run: deploy to production [ask]');
  assert.equal((await getJson(`${url}/runs/${runId}`)).body.status, 'queued', 'nothing starts before the answer');

  const waiting = await getJson(`${url}/approvals`);
  assert.equal(waiting.status, 200);
  assert.deepEqual(waiting.body, [{
    approval_id: request.approval_id,
    run_id: runId,
    summary: 'start a custom run: deploy to production [ask]',
    reason: request.reason,
    policy: 'asks-first',
    deadline: request.deadline,
    action: { kind: 'run', name: 'run.start', input: request.action.input },
  }]);
  assert.match(waiting.body[0].reason, /the prompt asks for a person/);
  assert.equal(waiting.body[0].action.input.prompt, 'deploy to production [ask]');

  const answer = await postJson(`${url}/runs/${runId}/approvals/${request.approval_id}`,
    { decision: 'allow', scope: 'once', reason: 'change window' });
  assert.deepEqual(answer, { status: 200, body: { answered: true } });
  const events = await restOf(messages);
  assert.equal(events[0].type, 'approval.resolved');
  assert.deepEqual(events[0].payload, {
    approval_id: request.approval_id, decision: 'allow', scope: 'once', source: 'human', by: 'demo-user', reason: 'change window',
  });
  const types = events.map((e) => e.type);
  assert.equal(types[1], 'run.started', types.join(' '));
  assert.equal(types.at(-1), 'run.completed', types.join(' '));
  assert.deepEqual(events.filter((e) => e.type === 'command.output').map((e) => e.payload.text),
    ['got: deploy to production [ask]', 'finished']);
  assert.deepEqual((await getJson(`${url}/approvals`)).body, []);
  await server.stop('SIGTERM');
});

test('a person denies a run, which fails with policy_denied', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url } = await startServer(t, { plugins: asksFirstPlugin() });
  const { runId, messages, request } = await askingRun(url, 'drop the database [ask]');
  const answer = await postJson(`${url}/runs/${runId}/approvals/${request.approval_id}`,
    { decision: 'deny', reason: 'not on a Friday' });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const events = await restOf(messages);
  assert.deepEqual(events.map((e) => e.type), ['approval.resolved', 'run.failed']);
  assert.equal(events[0].payload.decision, 'deny');
  assert.equal(events[0].payload.by, 'demo-user');
  assert.equal(events[0].payload.scope, 'once', 'the default scope');
  assert.equal(events[1].payload.error.code, 'policy_denied');
  assert.equal((await getJson(`${url}/runs/${runId}`)).body.error_code, 'policy_denied');
  await server.stop('SIGTERM');
});

test('answers that cannot apply are HTTP errors', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const plugins = asksFirstPlugin();
  const { server, url, store, workspace, go } = await startServer(t, { plugins });
  await go();
  const { runId, messages, request } = await askingRun(url, 'deploy [ask]');
  await messages.return();
  const answerUrl = `${url}/runs/${runId}/approvals/${request.approval_id}`;

  const invalid = [
    [{}, 'decision'],
    [{ decision: 'maybe' }, 'decision'],
    [{ decision: 'allow', scope: 'forever' }, 'scope'],
    [{ decision: 'allow', reason: 7 }, 'reason'],
    [['allow'], null],
  ];
  for (const [body, field] of invalid) {
    const r = await postJson(answerUrl, body);
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.equal(r.body.code, 'invalid_request');
    assert.equal(r.body.field, field);
  }

  const unknown = await postJson(`${url}/runs/${runId}/approvals/apr_nope`, { decision: 'allow' });
  assert.equal(unknown.status, 409, JSON.stringify(unknown.body));
  assert.equal(unknown.body.code, 'invalid_dispatch');
  const noRun = await postJson(`${url}/runs/run_nope/approvals/${request.approval_id}`, { decision: 'allow' });
  assert.equal(noRun.status, 404, JSON.stringify(noRun.body));
  assert.equal(noRun.body.code, 'run_not_found');

  assert.equal((await postJson(answerUrl, { decision: 'allow' })).status, 200);
  const twice = await postJson(answerUrl, { decision: 'deny' });
  assert.equal(twice.status, 409, JSON.stringify(twice.body));
  assert.equal(twice.body.code, 'invalid_dispatch');
  assert.equal(twice.body.retryable, false);

  // Another tenant's approval, in the same store: not listed, and answered as an unknown run.
  const operator = await Host.open({ store, workspaceRoot: workspace, useEnvironment: false, pluginPaths: [plugins] });
  try {
    const theirs = await operator.dispatch({
      tenantId: 'another-tenant', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd',
      runtime: 'custom', prompt: 'theirs [ask]', approvalPolicy: 'auto', idempotencyKey: 'theirs', command: ['true'],
    });
    let theirApproval;
    for await (const ev of theirs.events()) {
      if (ev.type === 'approval.required') { theirApproval = ev.payload.approval_id; break; }
    }
    assert.deepEqual((await getJson(`${url}/approvals`)).body, []);
    const r = await postJson(`${url}/runs/${theirs.id}/approvals/${theirApproval}`, { decision: 'allow' });
    assert.equal(r.status, 404);
    assert.deepEqual(JSON.parse(JSON.stringify(r.body).replaceAll(theirs.id, '<id>')),
      JSON.parse(JSON.stringify(noRun.body).replaceAll('run_nope', '<id>')));
    assert.deepEqual((await operator.pendingApprovals()).map((p) => p.id), [theirApproval], 'still waiting');
  } finally {
    await operator.close();
  }
  await server.stop('SIGTERM');
});

test('live approvals need a runtime that can ask', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { server, url } = await startServer(t);
  for (const policy of ['manual', 'confirm-risky']) {
    const r = await postRun(url, { prompt: 'p', approval_policy: policy });
    assert.equal(r.status, 422, policy);
    const problem = await r.json();
    assert.equal(problem.code, 'invalid_dispatch');
    assert.equal(problem.recovery?.field, 'approvalPolicy', JSON.stringify(problem));
  }
  const wrongType = await postRun(url, { prompt: 'p', approval_policy: 3 });
  assert.equal(wrongType.status, 422);
  assert.equal((await wrongType.json()).field, 'approval_policy');
  assert.equal((await postRun(url, { prompt: 'p', approval_policy: 'auto' })).status, 201);
  await server.stop('SIGTERM');
});
