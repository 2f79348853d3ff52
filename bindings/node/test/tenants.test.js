'use strict';
// Tenant walls: host.forTenant(t) sees, steers and dispatches only t's runs; another tenant's run
// is indistinguishable from a missing one (RunNotFoundError, same message, never listed). The
// Host itself is the operator's view and sees every tenant.
const test = require('node:test');
const assert = require('node:assert/strict');
const runhost = require('..');
const { RunNotFoundError, InvalidDispatchError, HostClosedError, TenantView, EventStream } = runhost;
const { env, sh, collect, asksFirstPlugin } = require('./helpers');

const UNKNOWN = 'run_01JUNKNOWN0000000000000000';

/** The RunNotFoundError `call(runId)` rejects with, checked to read exactly as for an unknown id. */
async function refusal(call, runId) {
  let unknown = null;
  let walled = null;
  await Promise.resolve().then(() => call(UNKNOWN)).catch((e) => { unknown = e; });
  await Promise.resolve().then(() => call(runId)).catch((e) => { walled = e; });
  for (const e of [unknown, walled]) {
    assert.ok(e instanceof RunNotFoundError, `rejected with RunNotFoundError, not ${e}`);
    assert.equal(e.code, 'run_not_found');
    assert.equal(e.retryable, false);
  }
  assert.equal(walled.message.replaceAll(runId, '<id>'), unknown.message.replaceAll(UNKNOWN, '<id>'),
    'a wall must not tell "not yours" from "not there"');
  return walled;
}

const withoutTenant = ({ tenantId, ...rest }) => rest;

/** Tenant b's run, still running, and tenant a's, ended; a's view. */
async function twoTenants(t) {
  const host = env(t).host();
  const bRun = await host.dispatch(sh('echo b-output; sleep 60', { tenantId: 'b' }));
  const aRun = await host.dispatch(sh('echo a-output', { tenantId: 'a' }));
  await aRun.wait();
  return { host, view: host.forTenant('a'), aRun, bRun };
}

test('another tenant\'s run is missing to reads', async (t) => {
  const { view, aRun, bRun } = await twoTenants(t);
  assert.equal(await view.run(bRun.id), null, 'run() of another tenant\'s run: null, as of an unknown id');
  assert.equal(await view.run(UNKNOWN), null);
  await refusal((id) => view.events(id), bRun.id);
  await refusal((id) => view.events(id, { after: 1, limit: 5 }), bRun.id);
  assert.equal((await view.events(aRun.id)).at(-1).type, 'run.completed');
});

test('another tenant\'s run is never listed', async (t) => {
  const { host, view, aRun, bRun } = await twoTenants(t);
  assert.deepEqual((await view.runs()).map((r) => r.id), [aRun.id]);
  assert.deepEqual(await view.runs({ tenantId: 'b' }), [], 'a filter naming another tenant lists nothing');
  assert.deepEqual((await view.runs({ tenantId: 'a' })).map((r) => r.id), [aRun.id]);
  assert.deepEqual(await view.runs({ status: 'running' }), []);
  assert.deepEqual(new Set((await host.runs()).map((r) => r.id)), new Set([aRun.id, bRun.id]), 'the operator lists every tenant\'s');
});

test('another tenant\'s run cannot be followed', async (t) => {
  // No public call gives a view a Run of another tenant (run() is null), so follow the wall one
  // level down: the stream the view's runs are made of refuses the id itself.
  const { view, bRun } = await twoTenants(t);
  await refusal((id) => collect(new EventStream(view, id)), bRun.id);
  const events = new EventStream(view, bRun.id);
  await assert.rejects(events.next(), RunNotFoundError);
  assert.equal(events.ended, true, 'a refused stream has ended');
});

test('another tenant\'s run cannot be cancelled', async (t) => {
  const { host, view, bRun } = await twoTenants(t);
  const stream = bRun.events();
  assert.equal((await stream.next()).value.type, 'run.started');
  await refusal((id) => view.cancel(id), bRun.id);
  assert.equal((await bRun.refresh()).status, 'running', 'b\'s run goes on');
  assert.notEqual((await host.events(bRun.id)).at(-1).type, 'run.cancelled');
  await host.cancel(bRun.id);  // the operator may
  assert.equal((await collect(stream)).at(-1).type, 'run.cancelled');
});

test('another tenant\'s approval cannot be answered', async (t) => {
  const host = env(t).host({ pluginPaths: [asksFirstPlugin()] });
  const bRun = await host.forTenant('b').dispatch(withoutTenant(sh('echo approved', { prompt: 'deploy [ask]' })));
  const stream = bRun.events();
  const asked = (await stream.next()).value;
  assert.equal(asked.type, 'approval.required');
  const approvalId = asked.payload.approval_id;
  const view = host.forTenant('a');
  await refusal((id) => view.resolveApproval({ runId: id, approvalId, decision: 'allow', reason: 'not mine to give' }), bRun.id);
  assert.equal((await bRun.refresh()).status, 'queued', 'b\'s run still waits for b\'s answer');
  await bRun.resolveApproval({ approvalId, decision: 'allow', reason: 'ok by b' });  // through b's view: the run keeps its scope
  const rest = await collect(stream);
  assert.deepEqual(rest.map((ev) => ev.type), ['approval.resolved', 'run.started', 'command.output', 'run.completed']);
  assert.equal(rest[0].payload.reason, 'ok by b');
});

test('a dispatch naming another tenant is refused', async (t) => {
  const host = env(t).host();
  await assert.rejects(host.forTenant('a').dispatch(sh('echo never', { tenantId: 'b' })), (e) => {
    assert.ok(e instanceof InvalidDispatchError, String(e));
    assert.equal(e.field, 'tenantId');
    assert.equal(e.action, 'fix_dispatch');
    return true;
  });
  assert.deepEqual(await host.runs(), [], 'nothing was recorded, for either tenant');
});

test('a dispatch without tenantId lands in the view\'s tenant', async (t) => {
  const host = env(t).host();
  const view = host.forTenant('a');
  const run = await view.dispatch(withoutTenant(sh('echo in a')));
  assert.equal(run.host, view);
  assert.equal(run.info.tenantId, 'a');
  const events = await collect(run.events());
  assert.deepEqual(new Set(events.map((ev) => ev.tenant_id)), new Set(['a']));
  assert.equal((await run.wait({ check: true })).status, 'succeeded');
  assert.equal((await view.dispatch(sh('echo also a', { tenantId: 'a' }))).info.tenantId, 'a', 'naming its own tenant is fine');
  assert.equal((await host.run(run.id)).id, run.id, 'the operator sees it');
});

test('runs of a view act in its scope, emitters and AbortSignal included', async (t) => {
  const { view, aRun } = await twoTenants(t);
  const run = await view.run(aRun.id);
  assert.equal(run.host, view);
  assert.equal((await run.refresh()).tenantId, 'a');
  const emitted = [];
  await new Promise((resolve, reject) => {
    run.on('event', (ev) => emitted.push(ev.type));
    run.on('end', resolve);
    run.on('error', reject);
  });
  assert.equal(emitted.at(-1), 'run.completed');
  assert.deepEqual((await collect(run.events({ after: 1 }))).map((ev) => ev.seq), (await view.events(aRun.id, { after: 1 })).map((ev) => ev.seq));
  await run.cancel();  // a finished run of its own: left as it is
  assert.equal((await run.refresh()).status, 'succeeded');

  const ac = new AbortController();
  const long = await view.dispatch(withoutTenant(sh('echo started; sleep 30')), { signal: ac.signal });
  const stream = long.events();
  assert.equal((await stream.next()).value.type, 'run.started');
  ac.abort();
  assert.equal((await collect(stream)).at(-1).type, 'run.cancelled', 'the abort cancelled it through the view');
});

test('the operator sees every tenant', async (t) => {
  const { host, aRun, bRun } = await twoTenants(t);
  for (const run of [aRun, bRun]) {
    assert.equal((await host.run(run.id)).id, run.id);
    assert.equal((await host.events(run.id))[0].type, 'run.started');
  }
  assert.equal((await host.forTenant('b').run(bRun.id)).id, bRun.id);
});

test('an unknown run is run_not_found everywhere', async (t) => {
  const host = env(t).host();
  const calls = [
    (id) => host.events(id),
    (id) => host.cancel(id),
    (id) => host.resolveApproval({ runId: id, approvalId: 'apr_x', decision: 'allow' }),
    (id) => collect(new EventStream(host, id)),
  ];
  for (const call of calls) {
    await assert.rejects(call(UNKNOWN), (e) => e instanceof RunNotFoundError && e.message.includes(UNKNOWN));
  }
  assert.equal(await host.run(UNKNOWN), null);
});

test('forTenant checks its argument; a view owns nothing', async (t) => {
  const host = env(t).host();
  assert.throws(() => host.forTenant(42), TypeError);
  assert.throws(() => host.forTenant(''), TypeError);
  const view = host.forTenant('acme');
  assert.ok(view instanceof TenantView);
  assert.equal(view.tenantId, 'acme');
  assert.equal(view.closed, false);
  assert.equal(view.close, undefined);
  assert.equal(view.plugins, undefined);
  await host.close();
  assert.equal(view.closed, true);
  await assert.rejects(view.runs(), HostClosedError);
  await assert.rejects(view.dispatch(withoutTenant(sh('true'))), HostClosedError);
});
