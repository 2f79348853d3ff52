'use strict';
// The sandbox device from Node: a Host given HostOptions.miosa (or the MIOSA_* variables) runs a
// dispatch with deviceType 'sandbox' in a MIOSA sandbox. The MIOSA API here is the loopback
// emulator (tools/miosa-emulator), which runs every command for real, confined by bubblewrap;
// each test starts its own. Without bwrap the tests are skipped, with the reason.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { Host, DeviceUnavailableError } = require('..');
const { REPO, env, sh, collect, checkStream } = require('./helpers');

const SERVE = path.join(REPO, 'tools', 'miosa-emulator', 'serve');
const KEY = 'msk_live_node_test_0123456789';
const MIOSA_VARIABLES = ['MIOSA_BASE_URL', 'MIOSA_API_KEY', 'MIOSA_ACCESS_TOKEN', 'MIOSA_TENANT'];

/** The first of `names` not on PATH (as an executable), or null. */
function missing(...names) {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return names.find((name) => !dirs.some((dir) => {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  })) ?? null;
}

const SKIP = missing('bwrap')
  ? 'bubblewrap (bwrap) is not installed: the MIOSA emulator confines every sandbox command with it (apt-get install bubblewrap; scripts/setup installs it)'
  : missing('python3')
    ? 'python3 is not installed: the MIOSA emulator (tools/miosa-emulator/serve) needs it'
    : null;

/**
 * Starts `serve --port 0 --root <temp dir>` and resolves { baseUrl, root, log() } once it prints
 * `miosa-emulator listening on http://127.0.0.1:PORT`; SIGTERM (and the temp dir removed) after the test.
 */
async function emulator(t) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-node-miosa-'));
  const child = spawn(SERVE, ['--port', '0', '--root', path.join(root, 'emu')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    await exited;
    clearTimeout(timer);
    fs.rmSync(root, { recursive: true, force: true });
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const prefix = 'miosa-emulator listening on ';
  const line = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the emulator printed no address in 30 s: ${JSON.stringify(out)}\n${stderr}`)), 30000);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const end = out.indexOf('\n');
      if (end < 0) return;
      clearTimeout(timer);
      resolve(out.slice(0, end));
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the emulator exited (${signal ?? code}) before listening: ${JSON.stringify(out)}\n${stderr}`));
    });
    child.once('error', reject);
  });
  assert.ok(line.startsWith(prefix), `the emulator's first line: ${JSON.stringify(line)}\n${stderr}`);
  const baseUrl = line.slice(prefix.length).trim();
  assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  return {
    baseUrl,
    root: path.join(root, 'emu'),
    /** Every request the emulator answered (its admin route). */
    async log() {
      const r = await fetch(`${baseUrl}/_emulator/log`);
      assert.equal(r.status, 200);
      return (await r.json()).data;
    },
  };
}

/** Sets the MIOSA variables for one test (the others of the process unset) and restores them after. */
function miosaEnvironment(t, values) {
  const saved = Object.fromEntries(MIOSA_VARIABLES.map((name) => [name, process.env[name]]));
  t.after(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
  for (const name of MIOSA_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
}

/** A custom-runtime dispatch into a sandbox: no deviceId (a new sandbox), no cwd (/workspace). */
function inSandbox(script) {
  const { deviceId, ...request } = sh(script, { deviceType: 'sandbox' });
  void deviceId;
  return request;
}

/** The bytes of every file of the store: the database, its -wal and -shm, its -hosts directory. */
function storeBytes(store) {
  const files = (p) => (fs.statSync(p).isDirectory() ? fs.readdirSync(p).flatMap((name) => files(path.join(p, name))) : [p]);
  const dir = path.dirname(store);
  const all = fs.readdirSync(dir).filter((name) => name.startsWith(path.basename(store))).flatMap((name) => files(path.join(dir, name)));
  assert.ok(all.includes(store), all.join(', '));
  return Buffer.concat(all.map((file) => fs.readFileSync(file)));
}

/** The run went to one sandbox and completed; the sandbox id. */
function checkSandboxRun(events) {
  checkStream(events);
  assert.equal(events.at(-1).type, 'run.completed', JSON.stringify(events.at(-1)));
  const sid = events[0].device.id;
  assert.match(sid, /^sbx_/);
  for (const ev of events) {
    assert.equal(ev.device.type, 'sandbox', JSON.stringify(ev));
    assert.ok(ev.device.id.startsWith('sbx_'), JSON.stringify(ev));
    assert.equal(ev.device.id, sid, JSON.stringify(ev));
  }
  const output = events.filter((e) => e.type === 'command.output' && e.payload.stream === 'stdout').map((e) => e.payload.text);
  assert.ok(output.includes('hello from the sandbox'), JSON.stringify(output));
  return sid;
}

test('a Host given miosa runs a dispatch in a MIOSA sandbox; the key is in no event and no store byte', { timeout: 180000 }, async (t) => {
  if (SKIP) return t.skip(SKIP);
  const e = env(t);  // first: its hosts close before the emulator stops
  const emu = await emulator(t);
  const host = e.host({ miosa: { baseUrl: emu.baseUrl, apiKey: KEY }, useEnvironment: false });
  const run = await host.dispatch(inSandbox('echo hello from the sandbox; echo x > made.txt'));
  const events = await collect(run.events());
  const sid = checkSandboxRun(events);

  // The command ran in the sandbox (the emulator's directory for it), not on this machine.
  assert.equal(fs.readFileSync(path.join(emu.root, sid, 'workspace', 'made.txt'), 'utf8'), 'x\n');
  assert.equal(fs.existsSync(path.join(e.workspace, 'made.txt')), false);
  const { info } = await host.run(run.id);
  assert.equal(info.deviceType, 'sandbox');
  assert.equal(info.deviceId, sid);
  assert.equal(info.status, 'succeeded');
  // runhost called the emulator, with a Bearer key.
  const log = await emu.log();
  assert.ok(log.some((r) => r.method === 'POST' && r.path.endsWith('/sandboxes')), JSON.stringify(log.map((r) => `${r.method} ${r.path}`)));
  assert.ok(log.every((r) => r.path.startsWith('/_emulator') || r.authorization?.present), 'every MIOSA call carries the key');

  assert.ok(!JSON.stringify(events).includes(KEY), 'the key is in an event');
  await host.close();
  const stored = storeBytes(e.store);
  assert.ok(stored.includes('hello from the sandbox'), 'the bytes read hold the run');
  assert.ok(!stored.includes(KEY), 'the key is in the store');
});

test('useEnvironment: false leaves MIOSA_API_KEY unread: a sandbox dispatch is DeviceUnavailableError, configure_device', { timeout: 120000 }, async (t) => {
  if (SKIP) return t.skip(SKIP);
  const e = env(t);
  const emu = await emulator(t);
  miosaEnvironment(t, { MIOSA_BASE_URL: emu.baseUrl, MIOSA_API_KEY: KEY });
  const host = e.host({ useEnvironment: false });  // and no miosa option
  await assert.rejects(host.dispatch(inSandbox('echo hello from the sandbox')), (err) => {
    assert.ok(err instanceof DeviceUnavailableError, `${err.name}: ${err.message}`);
    assert.equal(err.code, 'device_unavailable');
    assert.equal(err.action, 'configure_device');
    assert.equal(err.recovery.field, 'deviceType');
    assert.ok(!err.message.includes(KEY));
    return true;
  });
  assert.deepEqual(await host.runs(), [], 'a refused dispatch records no run');
  assert.deepEqual((await emu.log()).filter((r) => !r.path.startsWith('/_emulator')), [], 'the emulator was never called');
});

test('by default the Host reads MIOSA_BASE_URL and MIOSA_API_KEY: the sandbox run completes', { timeout: 180000 }, async (t) => {
  if (SKIP) return t.skip(SKIP);
  const e = env(t);
  const emu = await emulator(t);
  miosaEnvironment(t, { MIOSA_BASE_URL: emu.baseUrl, MIOSA_API_KEY: KEY });
  // No miosa option, and useEnvironment left to its default (true).
  const host = new Host({ store: e.store, workspaceRoot: e.workspace });
  let events;
  try {
    const run = await host.dispatch(inSandbox('echo hello from the sandbox'));
    events = await collect(run.events());
  } finally {
    await host.close();  // before the emulator stops
  }
  checkSandboxRun(events);
  assert.ok(!JSON.stringify(events).includes(KEY), 'the key is in an event');
  assert.ok(!storeBytes(e.store).includes(KEY), 'the key is in the store');
});
