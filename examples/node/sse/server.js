'use strict';
// An HTTP backend on node:http alone that dispatches a runhost run and streams its events to the
// browser as Server-Sent Events.
//
//     cd examples/node && npm install
//     node sse/server.js                  # then open http://127.0.0.1:8000
//
// POST /runs {"prompt": "...", "submission_id"?: "...", "approval_policy"?: "auto"}
//                              dispatches a run: 201 {run_id, created, events_url}
// GET  /runs/:id/events        text/event-stream: one SSE message per runhost event, `id:` = seq,
//                              so a reconnecting browser (Last-Event-ID) resumes exactly where it
//                              stopped; an `end` message after the terminal event
// GET  /runs/:id               the run's record
// GET  /approvals              what waits for a person's answer, in the caller's tenant
// POST /runs/:id/approvals/:approval_id {"decision": "allow"|"deny", "scope"?, "reason"?}
//                              answers one, as the signed-in user: 200 {answered: true}
// GET  /                       a page that does all of it
//
// The backend is the control plane: it decides the tenant, user, device, runtime and command; the
// browser only sends a prompt, and answers approvals as the user the backend authenticated. Here
// the runtime is `custom` running RUNHOST_EXAMPLE_COMMAND (a JSON array; by default a short shell
// script that reads the prompt on stdin).
//
// Approvals: a policy plugin that asks before a run starts (on RUNHOST_PLUGIN_PATH) holds the run
// queued, its stream showing approval.required, until the page's Allow or Deny is posted; that
// works with any runtime. Asking mid-run (approval_policy "confirm-risky" or "manual") needs a
// runtime that can ask, such as claude-code: runhost refuses them for `custom` at dispatch, a 422.
//
// Configuration, all optional: RUNHOST_STORE (the SQLite file; keep it outside the workspace root,
// or its writes show up as file.changed events), RUNHOST_WORKSPACE_ROOT (where runs work, as for the
// CLI; default: the current directory), RUNHOST_EXAMPLE_COMMAND, HOST (default 127.0.0.1), PORT
// (default 8000; 0 picks a free port). The URL it listens on is printed to stdout. SIGTERM or
// SIGINT: stop accepting, end the open streams, close the Host (which cancels the runs it is still
// running), exit 0.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');
const {
  Host, RunhostError, HostClosedError, IdempotencyConflictError, InvalidDispatchError, RunNotFoundError,
} = require('runhost');

const DEFAULT_COMMAND = [
  'sh', '-c',
  'read -r prompt; echo "working on: $prompt"; sleep 1; echo "writing notes.txt"; '
  + 'echo "$prompt" > notes.txt; sleep 1; echo "done"',
];

const MAX_BODY_BYTES = 1 << 20;
const MAX_PROMPT_CHARS = 100_000;
const MAX_SUBMISSION_ID_BYTES = 200;
const MAX_APPROVAL_POLICY_BYTES = 40;
const MAX_REASON_CHARS = 10_000;
const HEARTBEAT_MS = 15_000;
const USER = 'demo-user'; // from your authentication
const TENANT = 'demo-tenant'; // from your authentication too

// An error that is an HTTP response: status, the JSON body {code, message, ...}, headers.
class HttpError extends Error {
  constructor(status, code, message, extra = {}, headers = {}) {
    super(message);
    this.status = status;
    this.body = { code, message, ...extra };
    this.headers = headers;
  }
}

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

// The body of an error from runhost, as the Python example sends it.
function problem(e) {
  return { code: e.code, message: e.message, retryable: e.retryable, recovery: e.recovery };
}

// A runhost error as an HTTP error: the caller's mistake (409, 422), or ours, worth a retry or not.
function fromRunhost(e) {
  if (e instanceof IdempotencyConflictError) return new HttpError(409, e.code, e.message, problem(e));
  if (e instanceof InvalidDispatchError) return new HttpError(422, e.code, e.message, problem(e));
  if (e instanceof RunhostError) {
    const headers = {};
    const ms = e.recovery?.retry_after_ms;
    if (e.retryable && Number.isFinite(ms)) headers['retry-after'] = String(Math.max(1, Math.ceil(ms / 1000)));
    return new HttpError(e.retryable ? 503 : 500, e.code, e.message, problem(e), headers);
  }
  if (e instanceof HostClosedError) {
    return new HttpError(503, e.code, 'the server is shutting down; try again', { retryable: true, recovery: null });
  }
  return e; // not runhost's: a bug of ours, answered as a plain 500
}

// The request body as JSON. 415 unless it says application/json: besides being what we parse,
// that makes a cross-site <form> unable to post here (a JSON POST from another origin needs CORS).
function readJson(req) {
  return new Promise((resolve, reject) => {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      reject(new HttpError(415, 'unsupported_media_type', 'send the body as JSON, with content-type: application/json'));
      req.resume();
      return;
    }
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // Stop reading; the response closes the connection (connection: close) and the rest is dropped.
        req.off('data', onData);
        req.pause();
        reject(new HttpError(413, 'body_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`, {}, { connection: 'close' }));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', reject);
    req.on('end', () => {
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch (_) {
        reject(new HttpError(400, 'invalid_json', 'the body is not valid UTF-8'));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new HttpError(400, 'invalid_json', `the body is not JSON: ${e.message}`));
      }
    });
  });
}

function invalid(field, message) {
  return new HttpError(422, 'invalid_request', message, { field });
}

function characters(s) {
  let n = 0;
  for (const _ of s) n += 1; // code points, as the Python example's max_length counts them
  return n;
}

function isObject(body) {
  return body !== null && typeof body === 'object' && !Array.isArray(body);
}

// {prompt, submission_id?, approval_policy?} checked, each problem named. The approval policy's
// value is runhost's to judge (InvalidDispatchError, a 422 naming approvalPolicy).
function runRequest(body) {
  if (!isObject(body)) {
    throw invalid(null, 'the body must be a JSON object: {"prompt": "...", "submission_id": "..."}');
  }
  const { prompt, submission_id: submissionId, approval_policy: approvalPolicy = 'auto' } = body;
  if (prompt === undefined) throw invalid('prompt', 'prompt is required');
  if (typeof prompt !== 'string') throw invalid('prompt', 'prompt must be a string');
  if (prompt === '') throw invalid('prompt', 'prompt must not be empty');
  if (characters(prompt) > MAX_PROMPT_CHARS) throw invalid('prompt', `prompt is longer than ${MAX_PROMPT_CHARS} characters`);
  if (submissionId !== undefined && submissionId !== null) {
    if (typeof submissionId !== 'string') throw invalid('submission_id', 'submission_id must be a string');
    if (submissionId === '') throw invalid('submission_id', 'submission_id must not be empty');
    if (Buffer.byteLength(submissionId) > MAX_SUBMISSION_ID_BYTES) {
      throw invalid('submission_id', `submission_id is longer than ${MAX_SUBMISSION_ID_BYTES} bytes`);
    }
  }
  if (typeof approvalPolicy !== 'string') throw invalid('approval_policy', 'approval_policy must be a string');
  if (approvalPolicy === '' || Buffer.byteLength(approvalPolicy) > MAX_APPROVAL_POLICY_BYTES) {
    throw invalid('approval_policy', 'approval_policy must be "auto", "confirm-risky" or "manual"');
  }
  return { prompt, submissionId: submissionId ?? null, approvalPolicy };
}

// {decision, scope?, reason?} checked, each problem named.
function approvalAnswer(body) {
  if (!isObject(body)) throw invalid(null, 'the body must be a JSON object: {"decision": "allow" | "deny", ...}');
  const { decision, scope = 'once', reason } = body;
  if (decision !== 'allow' && decision !== 'deny') throw invalid('decision', 'decision must be "allow" or "deny"');
  // once: this request; run: the same request for the rest of the run
  if (scope !== 'once' && scope !== 'run') throw invalid('scope', 'scope must be "once" or "run"');
  if (reason !== undefined && reason !== null) {
    if (typeof reason !== 'string') throw invalid('reason', 'reason must be a string');
    if (characters(reason) > MAX_REASON_CHARS) throw invalid('reason', `reason is longer than ${MAX_REASON_CHARS} characters`);
  }
  return { decision, scope, reason: reason ?? undefined };
}

// A pending approval as GET /approvals lists it: the parsed approval.required request.
function approvalView(p) {
  const { action, reason = null, policy = null, deadline = null } = p.request;
  return {
    approval_id: p.id,
    run_id: p.runId,
    summary: action.summary ?? action.name,
    reason,
    policy,
    deadline,
    action: { kind: action.kind, name: action.name, input: action.input },
  };
}

// The Last-Event-ID a reconnecting EventSource sends (the last seq it got): resume after it.
function lastEventId(req) {
  const value = (req.headers['last-event-id'] ?? '').trim();
  if (value === '') return 0;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new HttpError(400, 'invalid_last_event_id', `Last-Event-ID must be an event seq (a non-negative integer), not ${JSON.stringify(value.slice(0, 40))}`);
  }
  return n;
}

// One SSE message; `data` is the whole envelope on one line (JSON escapes newlines).
function sse(event) {
  return `id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

const END = 'event: end\ndata: {}\n\n'; // the run has ended: the page closes its EventSource

// Resolves when `res` can take more, or is gone.
function drained(res) {
  return new Promise((resolve) => {
    if (res.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The request handler of the example over `host`. `endStreams()` ends every open event stream
 * (at shutdown: without the `end` message, so a browser reconnects, with Last-Event-ID, later).
 */
function createApp(host, { command = DEFAULT_COMMAND, log = console.log } = {}) {
  // Aborted at shutdown: every open event stream stops following its run (run.events' signal).
  const shutdown = new AbortController();
  let closing = false;
  // Every request acts as its tenant: another tenant's run id gets the 404 of an unknown one, and
  // a dispatch cannot land in another tenant. (The Host itself is the operator's view.)
  const tenantOf = (req) => host.forTenant(TENANT);

  async function createRun(req, res) {
    const { prompt, submissionId, approvalPolicy } = runRequest(await readJson(req));
    let run;
    try {
      run = await tenantOf(req).dispatch({
        workspaceId: 'demo-workspace',
        userId: USER,
        deviceType: 'local',
        deviceId: 'example-server',
        runtime: 'custom',
        prompt,
        approvalPolicy,
        // The browser's id for this submission: sent twice (a double click, a retry after a
        // timeout), it gives the same run instead of a second one. Scoped to the user, so two
        // users' ids never meet. No AbortSignal: a client that goes away does not cancel its run.
        idempotencyKey: submissionId ? `${USER}:${submissionId}` : crypto.randomUUID(),
        command,
      });
    } catch (e) {
      throw fromRunhost(e);
    }
    if (run.created) log(`run ${run.id} dispatched`);
    // 201 for a resubmission too: the same answer as the first time, with created: false.
    sendJson(res, 201, { run_id: run.id, created: run.created, events_url: `/runs/${run.id}/events` });
  }

  async function findRun(req, runId) {
    try {
      const run = await tenantOf(req).run(runId);
      if (run === null) throw new HttpError(404, 'not_found', `no run ${runId}`);
      return run;
    } catch (e) {
      throw e instanceof HttpError ? e : fromRunhost(e);
    }
  }

  async function getRun(req, res, runId) {
    const run = await findRun(req, runId);
    const info = run.info;
    sendJson(res, 200, { id: info.id, status: info.status, error_code: info.errorCode, last_seq: info.lastSeq });
  }

  async function streamEvents(req, res, runId) {
    const after = lastEventId(req);
    const run = await findRun(req, runId);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no', // nginx: do not buffer the stream
      // A stream's connection is not reused: when the stream ends its socket closes, so an
      // ended stream never holds a shutting-down server up as an idle keep-alive connection.
      connection: 'close',
    });
    res.flushHeaders();
    if (res.destroyed) return; // the client went away while the run was looked up

    // No thread per client: the stream awaits its run's next event on this event loop. It stops
    // following the run (the run itself goes on) when the client goes away or the server shuts
    // down: either signal ends the loop with an AbortError.
    const clientGone = new AbortController();
    const onClose = () => { if (!res.writableFinished) clientGone.abort(); };
    res.on('close', onClose); // the connection closed (or the response ended: writableFinished)
    const events = run.events({ after, signal: AbortSignal.any([clientGone.signal, shutdown.signal]) });
    // A comment line now and then: proxies do not time out a quiet stream, and a dead peer shows.
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS).unref();
    try {
      for await (const ev of events) {
        if (!res.write(sse(ev))) await drained(res); // a slow client slows its own reads, nobody else
      }
      res.end(END);
    } catch (e) {
      if (clientGone.signal.aborted) {
        log(`events of ${runId}: the client went away after seq ${events.cursor}; the run goes on`);
      } else if (shutdown.signal.aborted) {
        res.end(); // without `end`: the browser reconnects, with Last-Event-ID, once we are back
      } else {
        // The headers are sent: say why in the stream, then end it.
        const err = fromRunhost(e);
        const body = err instanceof HttpError ? err.body : { code: 'internal', message: 'internal error' };
        console.error(`events of ${runId}: ${e.stack ?? e}`);
        if (!res.destroyed) res.end(`event: stream.error\ndata: ${JSON.stringify(body)}\n\n`);
      }
    } finally {
      clearInterval(heartbeat);
      res.off('close', onClose);
    }
  }

  async function listApprovals(req, res) {
    let waiting;
    try {
      waiting = await tenantOf(req).pendingApprovals();
    } catch (e) {
      throw fromRunhost(e);
    }
    // One already answered is being applied: no longer anyone's to answer.
    sendJson(res, 200, waiting.filter((p) => !p.answered).map(approvalView));
  }

  async function answerApproval(req, res, runId, approvalId) {
    const { decision, scope, reason } = approvalAnswer(await readJson(req));
    try {
      await tenantOf(req).resolveApproval({ runId, approvalId, decision, scope, reason, by: USER });
    } catch (e) {
      // An unknown run and another tenant's get the same answer.
      if (e instanceof RunNotFoundError) throw new HttpError(404, e.code, e.message, problem(e));
      // No such approval pending: unknown, answered already, or its run has ended.
      if (e instanceof InvalidDispatchError) throw new HttpError(409, e.code, e.message, problem(e));
      throw fromRunhost(e);
    }
    sendJson(res, 200, { answered: true });
  }

  function page(req, res) {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(PAGE),
      'x-content-type-options': 'nosniff',
    });
    res.end(PAGE);
  }

  const ROUTES = [
    [/^\/$/, { GET: page }],
    [/^\/runs$/, { POST: createRun }],
    [/^\/runs\/([^/]+)$/, { GET: getRun }],
    [/^\/runs\/([^/]+)\/events$/, { GET: streamEvents }],
    [/^\/approvals$/, { GET: listApprovals }],
    [/^\/runs\/([^/]+)\/approvals\/([^/]+)$/, { POST: answerApproval }],
  ];

  async function route(req, res) {
    if (closing) throw new HttpError(503, 'shutting_down', 'the server is shutting down; try again', {}, { connection: 'close' });
    const pathname = req.url.split('?')[0];
    for (const [pattern, methods] of ROUTES) {
      const m = pattern.exec(pathname);
      if (!m) continue;
      const handler = methods[req.method];
      if (!handler) {
        throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${pathname}`, {},
          { allow: Object.keys(methods).join(', ') });
      }
      let params;
      try {
        params = m.slice(1).map(decodeURIComponent);
      } catch (_) {
        throw new HttpError(400, 'bad_request', `bad percent-encoding in ${pathname}`);
      }
      return handler(req, res, ...params);
    }
    throw new HttpError(404, 'not_found', `nothing at ${pathname}`);
  }

  function handle(req, res) {
    route(req, res).catch((e) => {
      if (!(e instanceof HttpError)) console.error(`${req.method} ${req.url}: ${e.stack ?? e}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) sendJson(res, e.status, e.body, e.headers);
      else sendJson(res, 500, { code: 'internal', message: 'internal error' });
    });
  }

  function endStreams() {
    closing = true;
    shutdown.abort();
  }

  return { handle, endStreams };
}

function fail(message) {
  console.error(`runhost example: ${message}`);
  process.exit(2);
}

function config(env) {
  let command = DEFAULT_COMMAND;
  if (env.RUNHOST_EXAMPLE_COMMAND) {
    try {
      command = JSON.parse(env.RUNHOST_EXAMPLE_COMMAND);
    } catch (e) {
      fail(`RUNHOST_EXAMPLE_COMMAND is not JSON: ${e.message}`);
    }
    if (!Array.isArray(command) || command.length === 0 || !command.every((a) => typeof a === 'string')) {
      fail('RUNHOST_EXAMPLE_COMMAND must be a JSON array of strings, e.g. ["sh", "-c", "read -r p; echo $p"]');
    }
  }
  const port = env.PORT === undefined || env.PORT === '' ? 8000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT must be a port number (0 for any free port), not ${env.PORT}`);
  return {
    command,
    port,
    hostname: env.HOST || '127.0.0.1',
    store: env.RUNHOST_STORE || undefined,
    workspaceRoot: env.RUNHOST_WORKSPACE_ROOT || undefined,
  };
}

async function main() {
  const c = config(process.env);
  // One Host for the whole process: it owns the store and one reactor thread for every run.
  let host;
  try {
    host = await Host.open({ store: c.store, workspaceRoot: c.workspaceRoot });
  } catch (e) {
    console.error(`runhost example: cannot open the runhost host: ${e.message}`);
    process.exit(1);
  }
  const app = createApp(host, { command: c.command });
  const server = http.createServer(app.handle);
  server.on('error', async (e) => {
    console.error(`runhost example: ${e.message}`);
    await host.close();
    process.exit(1);
  });
  server.listen(c.port, c.hostname, () => {
    const { address, port } = server.address();
    console.log(`listening on http://${address.includes(':') ? `[${address}]` : address}:${port}`);
  });

  let shuttingDown = false;
  const shutdown = async (signal) => {
    if (shuttingDown) {
      console.error(`${signal} again: exiting now`);
      process.exit(1);
    }
    shuttingDown = true;
    console.log(`${signal}: shutting down`);
    const serverClosed = new Promise((resolve) => server.close(resolve)); // no new connections
    server.closeIdleConnections();
    app.endStreams();
    // Requests in progress (a dispatch) get a few seconds to finish; then their connections go.
    const grace = setTimeout(() => server.closeAllConnections(), 5000);
    await serverClosed;
    clearTimeout(grace);
    try {
      await host.close(); // cancels the runs still running, stores their last events
    } catch (e) {
      console.error(`runhost example: closing the host: ${e.message}`);
      process.exitCode = 1;
      return;
    }
    console.log('closed');
    // Nothing is left to keep the process alive: it exits, with status 0.
  };
  process.on('SIGTERM', () => { shutdown('SIGTERM'); });
  process.on('SIGINT', () => { shutdown('SIGINT'); });
}

// The page, shared with the Python example.
const PAGE = fs.readFileSync(path.join(__dirname, '..', '..', 'sse-page.html'), 'utf8');

if (require.main === module) main();

module.exports = { createApp, DEFAULT_COMMAND };
