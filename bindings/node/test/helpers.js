'use strict';
// Shared by the tests: a Host on a fresh store and workspace, dispatches for the custom runtime,
// the event schema, a child `node` and the asks-first policy compiled from C.
// The store lives outside the workspace, so its own writes never show up as file.changed.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { threadId } = require('node:worker_threads');
const { Host } = require('..');

const REPO = path.resolve(__dirname, '..', '..', '..');
let keys = 0;

function tempDirs() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-node-'));
  const workspace = path.join(root, 'ws');
  fs.mkdirSync(workspace);
  return { root, store: path.join(root, 'runhost.db'), workspace, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

function customDispatch(command, fields = {}) {
  return {
    tenantId: 't1',
    workspaceId: 'w1',
    userId: 'u1',
    deviceType: 'local',
    deviceId: 'node-test',
    runtime: 'custom',
    prompt: 'test',
    approvalPolicy: 'auto',
    idempotencyKey: `key-${process.pid}-${threadId}-${++keys}`,
    command,
    ...fields,
  };
}

const sh = (script, fields = {}) => customDispatch(['sh', '-c', script], fields);

/** A shell printf of one unified JSON line (the custom runtime's jsonl mode). */
function jsonlLine(type, payload) {
  const line = JSON.stringify({ type, payload }).replaceAll("'", "'\\''");
  return `printf '%s\\n' '${line}'`;
}

/** A fresh store and workspace for one test, and a Host factory on them (closed after the test). */
function env(t) {
  const dirs = tempDirs();
  const hosts = [];
  t.after(async () => {
    await Promise.all(hosts.map((h) => h.close()));
    dirs.cleanup();
  });
  const host = (options = {}) => {
    const h = new Host({ store: dirs.store, workspaceRoot: dirs.workspace, useEnvironment: false, ...options });
    hosts.push(h);
    return h;
  };
  return { ...dirs, host };
}

async function collect(stream) {
  const out = [];
  for await (const ev of stream) out.push(ev);
  return out;
}

let validator = null;
/** Every envelope matches docs/events.schema.json; seq runs 1, 2, 3...; one terminal event, last. */
function checkStream(events) {
  if (!validator) {
    const Ajv2020 = require('ajv/dist/2020');
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    require('ajv-formats')(ajv);
    validator = ajv.compile(JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'events.schema.json'), 'utf8')));
  }
  assert.ok(events.length > 0, 'no events');
  events.forEach((ev, i) => {
    assert.ok(validator(ev), `event ${i + 1} does not match the schema: ${JSON.stringify(validator.errors)}\n${JSON.stringify(ev)}`);
    assert.equal(ev.seq, i + 1, 'seq must be gap-free');
  });
  const terminal = events.filter((e) => ['run.completed', 'run.failed', 'run.cancelled'].includes(e.type));
  assert.equal(terminal.length, 1, events.map((e) => e.type).join(','));
  assert.equal(terminal[0], events.at(-1));
}

/** Runs `node -e script args...`; resolves {code, signal, stdout, stderr}; kills it after `ms`. */
function node(script, args = [], { ms = 30000, env: extra = {} } = {}) {
  const environment = { ...process.env, ...extra };
  delete environment.RUNHOST_PLUGIN_PATH;
  const child = spawn(process.execPath, ['-e', script, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: environment, cwd: __dirname });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut: signal === 'SIGKILL' });
    });
  });
}

/**
 * Source for node(): a script with `openHost()` (a Host on `e`'s store and workspace), `store`,
 * `workspace` and `sh` in scope, running `body` inside an async function.
 */
function hostScript(e, body) {
  return `
    const { Host } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const { sh } = require(${JSON.stringify(__filename)});
    const store = ${JSON.stringify(e.store)};
    const workspace = ${JSON.stringify(e.workspace)};
    const openHost = () => new Host({ store, workspaceRoot: workspace, useEnvironment: false });
    (async () => {${body}})();`;
}

let asksFirst = null;
/** A directory holding the asks-first policy (bindings/common/test-plugins), compiled now against abi/ alone, as a vendor would. */
function asksFirstPlugin() {
  if (asksFirst) return asksFirst;
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-node-plugins-'));
  process.on('exit', () => fs.rmSync(out, { recursive: true, force: true }));
  // One compiler line for every suite: bindings/common/test-plugins/build.py.
  execFileSync('python3', [path.join(REPO, 'bindings', 'common', 'test-plugins', 'build.py'), out]);
  asksFirst = out;
  return out;
}

module.exports = { REPO, tempDirs, customDispatch, sh, jsonlLine, env, collect, checkStream, node, hostScript, asksFirstPlugin };
