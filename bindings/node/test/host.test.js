'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const runhost = require('..');
const { Host, RunhostError, HostClosedError } = runhost;
const { tempDirs, customDispatch } = require('./helpers');

async function collect(stream) {
  const out = [];
  for await (const ev of stream) out.push(ev);
  return out;
}

function open(t) {
  const dirs = tempDirs();
  t.after(dirs.cleanup);
  const make = () => new Host({ store: dirs.store, workspaceRoot: dirs.workspace, useEnvironment: false });
  return { dirs, make };
}

test('replay after close() from a new Host', async (t) => {
  const { dirs, make } = open(t);
  let host = make();
  const run = await host.dispatch(customDispatch(['sh', '-c', 'echo one'], { cwd: dirs.workspace }));
  const first = await collect(run.events());
  await host.close();
  await assert.rejects(host.runs(), HostClosedError);
  host = make();
  try {
    assert.deepEqual(await collect((await host.run(run.id)).events()), first);
    const runs = await host.runs();
    assert.deepEqual(runs.map((r) => r.id), [run.id]);
  } finally {
    await host.close();
  }
});

test('two concurrent runs', async (t) => {
  const { dirs, make } = open(t);
  const host = make();
  try {
    const [a, b] = await Promise.all([
      host.dispatch(customDispatch(['sh', '-c', 'for i in 1 2 3; do echo a$i; done'], { cwd: dirs.workspace })),
      host.dispatch(customDispatch(['sh', '-c', 'for i in 1 2 3; do echo b$i; done'], { cwd: dirs.workspace })),
    ]);
    const [ea, eb] = await Promise.all([collect(a.events()), collect(b.events())]);
    assert.equal(ea.at(-1).type, 'run.completed');
    assert.equal(eb.at(-1).type, 'run.completed');
    assert.doesNotMatch(JSON.stringify(ea), /b[123]/);
    assert.doesNotMatch(JSON.stringify(eb), /a[123]/);
  } finally {
    await host.close();
  }
});

test('dispatch errors are RunhostError subclasses with code, retryable, recovery', async (t) => {
  const { make } = open(t);
  const host = make();
  try {
    const bad = customDispatch(['true']);
    delete bad.tenantId;
    await assert.rejects(host.dispatch(bad), (e) => {
      assert.ok(e instanceof RunhostError);
      assert.ok(e instanceof runhost.InvalidDispatchError);
      assert.equal(e.code, 'invalid_dispatch');
      assert.equal(e.retryable, false);
      return true;
    });
    assert.equal(runhost.errorCodes.length, 24);
    for (const { code } of runhost.errorCodes) {
      const name = code.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Error';
      assert.equal(new runhost[name]('x').code, code);
    }
  } finally {
    await host.close();
  }
});

test('an AbortSignal cancels the run', async (t) => {
  const { dirs, make } = open(t);
  const host = make();
  try {
    const ac = new AbortController();
    const run = await host.dispatch(customDispatch(['sh', '-c', 'echo started; sleep 30'], { cwd: dirs.workspace }), { signal: ac.signal });
    const events = [];
    for await (const ev of run.events()) {
      events.push(ev);
      if (events.length === 1) ac.abort();
    }
    assert.equal(events.at(-1).type, 'run.cancelled');
    assert.equal((await run.refresh()).status, 'cancelled');
  } finally {
    await host.close();
  }
});

test("run.on('event') emits every event, then 'end'", async (t) => {
  const { dirs, make } = open(t);
  const host = make();
  try {
    const run = await host.dispatch(customDispatch(['sh', '-c', 'echo x'], { cwd: dirs.workspace }));
    const seen = [];
    await new Promise((resolve, reject) => {
      run.on('event', (ev) => seen.push(ev.type));
      run.on('end', resolve);
      run.on('error', reject);
    });
    assert.equal(seen.at(-1), 'run.completed');
  } finally {
    await host.close();
  }
});
