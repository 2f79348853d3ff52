'use strict';
// Opening, closing and exiting: the process exits on its own when its runs end (no handle left
// open), a Host Node exits with or collects without close() still cancels its runs and stores
// their last events, and AbortSignals cancel runs or stop waits without leaking listeners.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { getEventListeners } = require('node:events');
const runhost = require('..');
const { Host } = runhost;
const { env, sh, collect, node, hostScript } = require('./helpers');

const PKG = JSON.stringify(path.resolve(__dirname, '..'));

test('Host.open resolves once open; ready, storePath, plugins()', async (t) => {
  const e = env(t);
  const host = await Host.open({ store: e.store, workspaceRoot: e.workspace, useEnvironment: false });
  try {
    await host.ready;
    assert.equal(host.storePath, e.store);
    const { loaded, refused, directories } = await host.plugins();
    const ids = loaded.map((p) => `${p.kind}:${p.id}`);
    for (const want of ['runtime:custom', 'policy:deny-pattern', 'connector:static-grant']) assert.ok(ids.includes(want), ids.join(','));
    assert.deepEqual(refused, []);
    assert.ok(directories.length >= 1);
    assert.match(loaded[0].abi, /^1\.\d+$/);
  } finally {
    await host.close();
  }
  assert.equal(new Host({ useEnvironment: false }).storePath, runhost.defaultStorePath, 'the embedded default');
});

test('a relative store is resolved against the current directory at construction', async (t) => {
  const e = env(t);
  const relative = path.relative(process.cwd(), path.join(e.root, 'relative.db'));
  assert.ok(!path.isAbsolute(relative));
  const host = e.host({ store: relative });
  assert.equal(host.storePath, path.join(e.root, 'relative.db'));
  await host.ready;
  assert.ok(require('node:fs').existsSync(path.join(e.root, 'relative.db')));
});

test('a script that never calls close() exits 0 once its run ends (no handle left open)', async (t) => {
  const e = env(t);
  const r = await node(hostScript(e, `
      const run = await openHost().dispatch(sh('echo hi', { cwd: workspace }));
      let last = null;
      for await (const ev of run.events()) last = ev.type;
      console.log(last);`), [], { ms: 20000 });
  assert.ok(!r.timedOut, `the child did not exit within 20 s (a handle was left open): ${r.stderr}`);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'run.completed', r.stderr);
});

test('a script that stops reading a running run exits at once; the run is cancelled and stored', async (t) => {
  const e = env(t);
  const started = Date.now();
  const r = await node(hostScript(e, `
      const run = await openHost().dispatch(sh('echo started; sleep 30', { cwd: workspace }));
      for await (const ev of run.events()) if (ev.type === 'command.output') break;
      console.log(run.id);`), [], { ms: 25000 });
  assert.ok(!r.timedOut, `the child waited for its run: ${r.stderr}`);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - started < 25000);
  const host = e.host();
  const run = await host.run(r.stdout.trim());
  assert.equal((await run.wait()).status, 'cancelled', 'Node exiting closed the host, which cancelled the run');
  const events = await collect(run.events());
  assert.equal(events.at(-1).type, 'run.cancelled');
});

test('a Host collected without close() cancels its runs on a worker thread', async (t) => {
  const e = env(t);
  const script = hostScript(e, `
      async function start() {
        const run = await openHost().dispatch(sh('echo started; sleep 30', { cwd: workspace }));
        for await (const ev of run.events()) if (ev.type === 'command.output') break;
        return run.id;
      }
      const id = await start();
      const observer = openHost();
      const deadline = Date.now() + 20000;
      let status = null;
      while (Date.now() < deadline) {
        global.gc();
        await new Promise((r) => setTimeout(r, 50));
        status = (await observer.run(id)).info.status;
        if (status === 'cancelled') break;
      }
      console.log(status);
      await observer.close();`);
  const r = await node(script, [], { ms: 30000, env: { NODE_OPTIONS: '--expose-gc' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'cancelled', r.stderr);
});

test('an AbortSignal: aborted before dispatch rejects and starts nothing; aborting cancels the run', async (t) => {
  const host = env(t).host();
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(host.dispatch(sh('true'), { signal: ac.signal }), (e) => e.name === 'AbortError');
  assert.deepEqual(await host.runs(), []);

  const live = new AbortController();
  const run = await host.dispatch(sh('echo started; sleep 30'), { signal: live.signal });
  const events = [];
  for await (const ev of run.events()) {
    events.push(ev);
    if (ev.type === 'command.output') live.abort();
  }
  assert.equal(events.at(-1).type, 'run.cancelled');
  assert.equal((await run.refresh()).status, 'cancelled');
});

test("a long-lived signal holds no listener once its runs have ended", async (t) => {
  const host = env(t).host();
  const ac = new AbortController();
  const runs = await Promise.all([1, 2, 3].map((i) => host.dispatch(sh(`echo ${i}`), { signal: ac.signal })));
  await Promise.all(runs.map((r) => r.wait()));
  const deadline = Date.now() + 10000;
  while (getEventListeners(ac.signal, 'abort').length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(getEventListeners(ac.signal, 'abort').length, 0);
  ac.abort();  // nothing left to cancel: no error, no unhandled rejection
  for (const r of runs) assert.equal((await r.refresh()).status, 'succeeded');
});

test('wait({ signal }) stops waiting; the run goes on', async (t) => {
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh('echo started; while [ ! -e go ]; do sleep 0.02; done; echo done', { cwd: e.workspace }));
  const ac = new AbortController();
  const waiting = run.wait({ signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(waiting, (err) => err.name === 'AbortError');
  assert.equal((await run.refresh()).status, 'running');
  require('node:fs').writeFileSync(path.join(e.workspace, 'go'), '');
  assert.equal((await run.wait()).status, 'succeeded');
});

test('approvals: a policy that asks; allow starts the run, deny fails it with policy_denied', async (t) => {
  const { asksFirstPlugin, checkStream } = require('./helpers');
  const host = env(t).host({ pluginPaths: [asksFirstPlugin()] });
  assert.ok((await host.plugins()).loaded.some((p) => p.id === 'asks-first'));

  const run = await host.dispatch(sh('echo approved and running', { prompt: 'deploy [ask]' }));
  const seen = [];
  for await (const ev of run.events()) {
    seen.push(ev);
    if (ev.type === 'approval.required') {
      assert.equal(ev.source, 'policy');
      assert.match(ev.payload.reason, /the prompt asks for a person/);
      assert.equal((await run.refresh()).status, 'queued', 'nothing starts before the answer');
      await assert.rejects(run.resolveApproval({ approvalId: 'apr_not_this_one', decision: 'allow' }), runhost.RunhostError);
      await run.resolveApproval({ approvalId: ev.payload.approval_id, decision: 'allow', reason: 'ok by ops' });
    }
  }
  checkStream(seen);
  assert.deepEqual(seen.map((e) => e.type), ['approval.required', 'approval.resolved', 'run.started', 'command.output', 'run.completed']);
  assert.equal(seen[1].payload.decision, 'allow');
  assert.equal(seen[1].payload.reason, 'ok by ops');

  const denied = await host.dispatch(sh('echo never', { prompt: 'drop the table [ask]' }));
  denied.on('event', (ev) => {
    if (ev.type === 'approval.required') host.resolveApproval({ runId: denied.id, approvalId: ev.payload.approval_id, decision: 'deny', reason: 'not on a Friday' });
  });
  await assert.rejects(denied.wait({ check: true }), (e) => e instanceof runhost.PolicyDeniedError && /not on a Friday/.test(e.message));
  assert.deepEqual((await host.events(denied.id)).map((e) => e.type), ['approval.required', 'approval.resolved', 'run.failed']);
});

test('a worker thread opens its own Host, runs, and ends; the main thread is not disturbed', async (t) => {
  const { Worker } = require('node:worker_threads');
  const e = env(t);
  const main = e.host();
  const script = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { Host } = require(${PKG});
    const { sh } = require(${JSON.stringify(path.join(__dirname, 'helpers.js'))});
    (async () => {
      const host = new Host({ store: workerData.store, workspaceRoot: workerData.workspace, useEnvironment: false });
      const run = await host.dispatch(sh('echo from a worker'));
      const types = [];
      for await (const ev of run.events()) types.push(ev.type);
      // One more, left running: the worker's end closes its Host, which cancels it.
      const left = await host.dispatch(sh('echo started; sleep 30'));
      for await (const ev of left.events()) if (ev.type === 'command.output') break;
      parentPort.postMessage({ id: run.id, left: left.id, types });
    })();`;
  const worker = new Worker(script, { eval: true, workerData: { store: e.store, workspace: e.workspace } });
  const message = await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  const code = await new Promise((resolve) => worker.once('exit', resolve));
  assert.equal(code, 0);
  assert.deepEqual(message.types, ['run.started', 'command.output', 'run.completed']);
  const left = await main.run(message.left);
  assert.equal((await left.wait()).status, 'cancelled', "the worker's Host was closed when the worker ended");
  const run = await main.dispatch(sh('echo main'));
  assert.equal((await run.wait()).status, 'succeeded');
});
