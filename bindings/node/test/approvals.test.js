'use strict';
// The approval round trip: a policy that asks at run.start (asks-first, compiled from C), the
// requests listed by any Host sharing the store (pendingApprovals, walled by tenant), answered
// from another Host or another process with who answered (by), the answers that are refused
// (unknown, a second one, another tenant's, of a run whose host died), and the deadline
// (approvalTimeoutSeconds).
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { once } = require('node:events');
const runhost = require('..');
const { Host, InvalidDispatchError, RunNotFoundError, PolicyDeniedError } = runhost;
const { env, sh, collect, checkStream, node, hostScript, asksFirstPlugin } = require('./helpers');

/** The run's approval.required, once stored (its pending approval is stored with it). */
async function asked(run) {
  for await (const ev of run.events()) {
    if (ev.type === 'approval.required') return ev;
  }
  throw new Error(`run ${run.id} ended without asking`);
}

// The events these tests are about; others a host may record beside them do not change their order.
const STORY = new Set(['approval.required', 'approval.resolved', 'run.started', 'command.output', 'run.completed', 'run.failed', 'run.cancelled']);
/** The types of the run's approval and lifecycle events, in order. */
const story = (events) => events.map((ev) => ev.type).filter((type) => STORY.has(type));

/** The payload of the run's one approval.resolved. */
function resolved(events) {
  const found = events.filter((e) => e.type === 'approval.resolved');
  assert.equal(found.length, 1, events.map((e) => e.type).join(','));
  return found[0].payload;
}

const askingHost = (e, options = {}) => e.host({ pluginPaths: [asksFirstPlugin()], ...options });

test('pendingApprovals lists each request with its action, summary and deadline, walled by tenant', async (t) => {
  const host = askingHost(env(t));
  const run = await host.dispatch(sh('echo never', { prompt: 'deploy [ask]', tenantId: 'acme' }));
  const ev = await asked(run);
  const [p, ...more] = await host.pendingApprovals();
  assert.deepEqual(more, []);
  assert.deepEqual(Object.keys(p).sort(), ['answered', 'createdUs', 'deadlineUs', 'id', 'request', 'runId', 'seq', 'tenantId']);
  assert.deepEqual([p.id, p.runId, p.tenantId, p.seq], [ev.payload.approval_id, run.id, 'acme', ev.seq]);
  assert.deepEqual(p.request, ev.payload, 'the request is the approval.required payload, parsed');
  assert.deepEqual([p.request.action.kind, p.request.action.name], ['run', 'run.start']);
  assert.equal(p.request.action.summary, 'start a custom run: deploy [ask]');
  assert.deepEqual(p.request.action.input.command, ['sh', '-c', 'echo never']);
  assert.equal(p.request.policy, 'asks-first');
  assert.deepEqual(p.request.options, ['allow', 'deny']);
  assert.match(p.request.reason, /the prompt asks for a person/);
  assert.equal(Math.floor(p.deadlineUs / 1000), Date.parse(p.request.deadline), 'deadlineUs is the request\'s deadline');
  const waitsFor = (p.deadlineUs - p.createdUs) / 1e6;
  assert.ok(waitsFor > 3590 && waitsFor <= 3600, `the default approvalTimeoutSeconds is an hour, not ${waitsFor} s`);
  assert.equal(p.answered, false);

  assert.deepEqual(await host.forTenant('acme').pendingApprovals(), [p]);
  assert.deepEqual(await host.forTenant('globex').pendingApprovals(), [], 'another tenant\'s approvals are never listed');
  await run.cancel();
  assert.equal((await run.wait()).status, 'cancelled');
  assert.deepEqual(await host.pendingApprovals(), [], 'a cancel settles the approval');
  assert.equal(resolved(await host.events(run.id)).source, 'cancel');
});

test('another process answers with who answered (by), and the run goes on', async (t) => {
  const e = env(t);
  const host = askingHost(e);
  const run = await host.dispatch(sh('echo approved and running', { prompt: 'deploy [ask]' }));
  const approvalId = (await asked(run)).payload.approval_id;
  const child = await node(hostScript(e, `
    const other = openHost();
    const [p] = await other.pendingApprovals();
    console.log(JSON.stringify({ id: p.id, runId: p.runId, summary: p.request.action.summary, answered: p.answered }));
    await other.resolveApproval({ runId: p.runId, approvalId: p.id, decision: 'allow', reason: 'from another process', by: 'alice' });
    await other.close();`));
  assert.equal(child.code, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), { id: approvalId, runId: run.id, summary: 'start a custom run: deploy [ask]', answered: false });

  const events = await collect(run.events());
  checkStream(events);
  assert.deepEqual(story(events), ['approval.required', 'approval.resolved', 'run.started', 'command.output', 'run.completed']);
  assert.deepEqual(resolved(events), {
    approval_id: approvalId, decision: 'allow', scope: 'once', source: 'human', by: 'alice', reason: 'from another process',
  });
  assert.deepEqual(await host.pendingApprovals(), []);
  await assert.rejects(host.resolveApproval({ runId: run.id, approvalId, decision: 'deny', by: 'bob' }),
    (err) => err instanceof InvalidDispatchError && err.message.includes(`approval ${approvalId} of run ${run.id} was already settled`));
});

test('a deny from a second Host fails the run with policy_denied; an unknown or a second answer is refused', async (t) => {
  const e = env(t);
  const host = askingHost(e);
  const other = e.host();
  const run = await host.dispatch(sh('touch ran.txt', { prompt: 'drop the table [ask]' }));
  const approvalId = (await asked(run)).payload.approval_id;
  await assert.rejects(other.resolveApproval({ runId: run.id, approvalId: 'apr_nope', decision: 'allow' }),
    (err) => err instanceof InvalidDispatchError && err.code === 'invalid_dispatch' && err.message === `run ${run.id} has no approval apr_nope`);
  await other.resolveApproval({ runId: run.id, approvalId, decision: 'deny', reason: 'not on a Friday', by: 'bob' });
  // Recorded at once; whether or not the run's host has applied it yet, it is the only answer.
  await assert.rejects(other.resolveApproval({ runId: run.id, approvalId, decision: 'allow', by: 'carol' }),
    (err) => err instanceof InvalidDispatchError && /already (answered \(deny\)|settled: denied \(bob\))/.test(err.message));
  await assert.rejects(run.wait({ check: true }), (err) => err instanceof PolicyDeniedError && /not on a Friday/.test(err.message));
  const events = await host.events(run.id);
  assert.deepEqual(story(events), ['approval.required', 'approval.resolved', 'run.failed']);
  assert.deepEqual(resolved(events), { approval_id: approvalId, decision: 'deny', scope: 'once', source: 'human', by: 'bob', reason: 'not on a Friday' });
  assert.equal(fs.existsSync(path.join(e.workspace, 'ran.txt')), false, 'a denied run never starts');
});

test('another tenant can neither list nor answer; the run\'s own helper answers in its scope', async (t) => {
  const host = askingHost(env(t));
  const run = await host.dispatch(sh('echo ok', { prompt: 'deploy [ask]', tenantId: 'acme' }));
  const approvalId = (await asked(run)).payload.approval_id;
  const globex = host.forTenant('globex');
  assert.deepEqual(await globex.pendingApprovals(), []);
  await assert.rejects(globex.resolveApproval({ runId: run.id, approvalId, decision: 'allow', by: 'mallory' }),
    (err) => err instanceof RunNotFoundError && err.message.includes(run.id));
  assert.equal((await host.pendingApprovals())[0].answered, false, 'the refused answer recorded nothing');

  const mine = await host.forTenant('acme').run(run.id);
  await mine.resolveApproval({ requestId: approvalId, decision: 'allow', by: 'ada' });
  assert.equal((await mine.wait()).status, 'succeeded');
  assert.equal(resolved(await host.events(run.id)).by, 'ada');
});

test('an approval of a run whose host died cannot be answered', async (t) => {
  const e = env(t);
  const owner = spawn(process.execPath, ['-e', hostScript(e, `
    const host = new Host({ store, workspaceRoot: workspace, useEnvironment: false, pluginPaths: [${JSON.stringify(asksFirstPlugin())}] });
    const run = await host.dispatch(sh('echo never', { prompt: 'deploy [ask]' }));
    for await (const ev of run.events()) {
      if (ev.type === 'approval.required') { console.log(run.id, ev.payload.approval_id); break; }
    }
    setInterval(() => {}, 1000);`)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(owner, 'exit');
  let line;
  try {
    [line] = await once(readline.createInterface({ input: owner.stdout }), 'line');
  } finally {
    owner.kill('SIGKILL');
    await exited;
  }
  const [runId, approvalId] = line.split(' ');
  const host = e.host();  // the next host to look ends the dead host's run: failed, device_lost
  const dead = await host.run(runId);
  assert.equal((await dead.wait()).errorCode, 'device_lost');
  assert.deepEqual(await host.pendingApprovals(), []);
  await assert.rejects(host.resolveApproval({ runId, approvalId, decision: 'allow', by: 'alice' }),
    (err) => err instanceof InvalidDispatchError && err.message.includes('can no longer be answered: the run has ended'));
});

test('no answer within approvalTimeoutSeconds is a deny (source deadline)', async (t) => {
  const e = env(t);
  const host = askingHost(e, { approvalTimeoutSeconds: 1 });
  const run = await host.dispatch(sh('touch ran.txt', { prompt: 'deploy [ask]' }));
  await asked(run);
  const [p] = await host.pendingApprovals();
  assert.ok(p.deadlineUs - p.createdUs > 0 && p.deadlineUs - p.createdUs <= 1e6, `a deadline 1 s away, not ${p.deadlineUs - p.createdUs} µs`);
  await assert.rejects(run.wait({ check: true }),
    (err) => err instanceof PolicyDeniedError && /approval not given by its deadline/.test(err.message));
  const events = await host.events(run.id);
  assert.deepEqual(story(events), ['approval.required', 'approval.resolved', 'run.failed']);
  const answer = resolved(events);
  assert.deepEqual([answer.decision, answer.source], ['deny', 'deadline']);
  assert.deepEqual(await host.pendingApprovals(), []);
  assert.equal(fs.existsSync(path.join(e.workspace, 'ran.txt')), false);
});

test('a bad approvalTimeoutSeconds or by is refused, naming it', async (t) => {
  const e = env(t);
  for (const [bad, cls, message] of [
    [0, RangeError, /^approvalTimeoutSeconds must be an integer >= 1, not 0$/],
    [-5, RangeError, /^approvalTimeoutSeconds must be an integer >= 1, not -5$/],
    [1.5, TypeError, /^approvalTimeoutSeconds must be an integer, not number 1.5$/],
    [Infinity, TypeError, /^approvalTimeoutSeconds must be an integer/],
    ['60', TypeError, /^approvalTimeoutSeconds must be an integer, not the string "60"$/],
    [null, TypeError, /^approvalTimeoutSeconds must be an integer, not null$/],
  ]) {
    assert.throws(() => new Host({ store: e.store, approvalTimeoutSeconds: bad }), (err) => err instanceof cls && message.test(err.message), String(bad));
  }
  assert.equal(fs.existsSync(e.store), false, 'nothing was opened');
  const host = askingHost(e);
  for (const [by, message] of [[5, /^by must be a non-empty string, not number 5$/], ['', /^by must be a non-empty string, not the string ""$/]]) {
    await assert.rejects(host.resolveApproval({ runId: 'run_x', approvalId: 'apr_x', decision: 'allow', by }), (err) => err instanceof TypeError && message.test(err.message));
  }
});

test('scope \'run\' is passed through, from the Run and the Host, and recorded in approval.resolved', async (t) => {
  const host = askingHost(env(t));
  for (const answer of [
    (run, approvalId) => run.resolveApproval({ approvalId, decision: 'allow', scope: 'run', by: 'ada' }),
    (run, approvalId) => host.forTenant('t1').resolveApproval({ runId: run.id, approvalId, decision: 'allow', scope: 'run', by: 'ada' }),
  ]) {
    const run = await host.dispatch(sh('echo standing', { prompt: 'deploy [ask]' }));
    const approvalId = (await asked(run)).payload.approval_id;
    await answer(run, approvalId);
    assert.equal((await run.wait()).status, 'succeeded');
    assert.deepEqual(resolved(await host.events(run.id)), { approval_id: approvalId, decision: 'allow', scope: 'run', source: 'human', by: 'ada' });
  }
});

test('a scope the host does not have is refused naming the scopes, and answers nothing', async (t) => {
  const host = askingHost(env(t));
  const run = await host.dispatch(sh('echo never', { prompt: 'deploy [ask]' }));
  const approvalId = (await asked(run)).payload.approval_id;
  for (const scope of ['session', 'always', '']) {
    await assert.rejects(host.resolveApproval({ runId: run.id, approvalId, decision: 'allow', scope }),
      (err) => err instanceof TypeError && err.message === `scope must be "once" or "run", not the string ${JSON.stringify(scope)}`);
  }
  assert.deepEqual((await host.pendingApprovals()).map((p) => [p.id, p.answered]), [[approvalId, false]]);
  await run.cancel();
});
