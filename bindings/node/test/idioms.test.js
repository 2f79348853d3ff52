'use strict';
// Node's idioms, the same on every call: an AbortSignal ends a run's event iteration (as fetch and
// Node's own iterators do), an unknown option is a TypeError naming it wherever options are taken,
// and an approval is answered with one object ({ approvalId | requestId, decision, scope, reason }).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const runhost = require('..');
const { env, sh, node, asksFirstPlugin } = require('./helpers');

const GATED = 'echo started; while [ ! -e go ]; do sleep 0.02; done; echo done';

test('events({ signal }): aborting ends a loop waiting for a live event with AbortError; the run goes on', { timeout: 30_000 }, async (t) => {
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh(GATED, { cwd: e.workspace }));
  const ac = new AbortController();
  const stream = run.events({ signal: ac.signal });
  const seen = [];
  // The run is held at its gate, so no next event comes: only the abort can end this loop
  // (were it ignored, the test would fail at its timeout).
  await assert.rejects((async () => {
    for await (const ev of stream) {
      seen.push(ev.type);
      // Caught up and waiting for the gate: abort while the loop waits for the next event.
      if (ev.type === 'command.output') setTimeout(() => ac.abort(), 30);
    }
  })(), (err) => err.name === 'AbortError' && err === ac.signal.reason);
  assert.deepEqual(seen, ['run.started', 'command.output']);
  assert.equal(stream.ended, true);
  assert.equal((await run.refresh()).status, 'running', 'aborting a reader does not cancel the run');
  // A stream aborted is closed: iterating it again is the usual mistake, not a silent empty loop.
  assert.throws(() => stream[Symbol.asyncIterator](), runhost.StreamConsumedError);
  fs.writeFileSync(path.join(e.workspace, 'go'), '');
  assert.equal((await run.wait()).status, 'succeeded');
});

test('events({ signal }): an abort at any moment of a step (a page read in progress too) ends the loop at once', async (t) => {
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh(GATED, { cwd: e.workspace }));
  // Aborts land at random moments of the loop's steps: while it reads a page on a worker, while it
  // makes its watcher, while it waits. Each must end the loop now, not at the next event (the
  // run is held at its gate: there is no next event).
  for (let i = 0; i < 60; i++) {
    const ac = new AbortController();
    const loop = (async () => { for await (const ev of run.events({ after: i % 3, signal: ac.signal })) void ev; })();
    setTimeout(() => ac.abort(), i % 7);
    const outcome = await Promise.race([
      loop.then(() => 'ended', (err) => err.name),
      new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2000)),
    ]);
    assert.equal(outcome, 'AbortError', `iteration ${i}`);
  }
  fs.writeFileSync(path.join(e.workspace, 'go'), '');
  assert.equal((await run.wait()).status, 'succeeded');
});

test('events({ signal }): an already-aborted signal rejects the first step at once, with its reason', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo one'));
  await run.wait();
  const reason = new Error('the client went away');
  const stream = run.events({ signal: AbortSignal.abort(reason) });
  await assert.rejects(stream.next(), (err) => err === reason);
  assert.equal(stream.ended, true);
  // An abort that comes after the terminal event changes nothing: the loop had ended normally.
  const ac = new AbortController();
  const types = [];
  for await (const ev of run.events({ signal: ac.signal })) types.push(ev.type);
  ac.abort();
  assert.equal(types.at(-1), 'run.completed');
  // A signal that is not one is refused where it is given.
  assert.throws(() => run.events({ signal: {} }), /signal must be an AbortSignal, not an object/);
});

test('an unknown option is refused the same way by every call that takes options', async (t) => {
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh('true'));
  await run.wait();
  const message = (call, known) => new RegExp(`^unknown ${call.replace(/[.()]/g, '\\$&')} option "bogus" \\(the options: ${known}\\)$`);
  assert.throws(() => new runhost.Host({ store: e.store, bogus: 1 }), (err) => err instanceof TypeError && /^unknown Host option "bogus" \(the options: store, /.test(err.message));
  const cases = [
    [() => run.events({ bogus: 1 }), message('events', 'after, signal')],
    [() => run.wait({ bogus: 1 }), message('wait', 'check, signal')],
    [() => host.events(run.id, { bogus: 1 }), message('events', 'after, limit')],
    [() => host.runs({ bogus: 1 }), message('runs', 'tenantId, status, limit')],
    [() => host.dispatch(sh('true'), { bogus: 1 }), message('dispatch', 'signal')],
    [() => host.forTenant('t1').runs({ bogus: 1 }), message('runs', 'tenantId, status, limit')],
    [() => host.resolveApproval({ runId: run.id, approvalId: 'a', decision: 'allow', bogus: 1 }),
      message('resolveApproval', 'runId, approvalId, requestId, decision, scope, reason, by')],
    [() => run.resolveApproval({ approvalId: 'a', decision: 'allow', bogus: 1 }),
      message('resolveApproval', 'approvalId, requestId, decision, scope, reason, by')],
  ];
  for (const [call, expected] of cases) {
    let result;
    try {
      result = call();
    } catch (err) {
      result = Promise.reject(err);  // thrown at once (events()) or rejected (the async calls)
    }
    await assert.rejects(Promise.resolve(result), (err) => err instanceof TypeError && expected.test(err.message), call.toString());
  }
});

test('resolveApproval({ approvalId | requestId, decision, scope, reason }) on the Run and on the Host', async (t) => {
  const host = env(t).host({ pluginPaths: [asksFirstPlugin()] });
  async function answered(prompt, answer) {
    const run = await host.dispatch(sh('echo ran', { prompt }));
    for await (const ev of run.events()) {
      if (ev.type === 'approval.required') await answer(run, ev.payload.approval_id);
      if (ev.type === 'approval.resolved') return { run, resolved: ev };
    }
    throw new Error('no approval.resolved');
  }
  // The Run's form, with requestId (the name) for approvalId (the event's).
  const allowed = await answered('deploy [ask]', (run, id) => run.resolveApproval({ requestId: id, decision: 'allow', reason: 'ok by ops' }));
  assert.deepEqual([allowed.resolved.payload.decision, allowed.resolved.payload.reason], ['allow', 'ok by ops']);
  assert.equal((await allowed.run.wait()).status, 'succeeded');
  // The Host's form, scope given explicitly.
  const denied = await answered('drop it [ask]', (run, id) => host.resolveApproval({ runId: run.id, approvalId: id, decision: 'deny', scope: 'once' }));
  assert.equal(denied.resolved.payload.decision, 'deny');
  await assert.rejects(denied.run.wait({ check: true }), runhost.PolicyDeniedError);

  // What is refused, before anything reaches the host, each naming what was wrong.
  const run = await host.dispatch(sh('echo never', { prompt: 'wait [ask]' }));
  const refusals = [
    [{ approvalId: 'apr_1', decision: 'allow', scope: 'session' }, /^scope must be "once" or "run", not the string "session"$/],
    [{ approvalId: 'apr_1', decision: 'allow', scope: 7 }, /^scope must be "once" or "run", not number 7$/],
    [{ approvalId: 'apr_1', decision: true }, /^decision must be "allow" or "deny", not boolean true$/],
    [{ approvalId: 'apr_1' }, /^decision must be "allow" or "deny", not undefined/],
    [{ decision: 'allow' }, /needs approvalId \(the approval.required event's payload.approval_id; requestId is accepted too\)/],
    [{ approvalId: 'apr_1', requestId: 'apr_2', decision: 'allow' }, /approvalId and requestId are two names for the same id .* they differ: "apr_1", "apr_2"/],
    [{ requestId: '', decision: 'allow' }, /^requestId must be a non-empty string/],
    [{ approvalId: 'apr_1', decision: 'deny', reason: 5 }, /^reason must be a string/],
    [{ approvalId: 'apr_1', decision: 'deny', by: ['ada'] }, /^by must be a non-empty string, not an array$/],
  ];
  for (const [answer, expected] of refusals) {
    await assert.rejects(run.resolveApproval(answer), (err) => err instanceof TypeError && expected.test(err.message), JSON.stringify(answer));
  }
  await assert.rejects(host.resolveApproval({ approvalId: 'apr_1', decision: 'allow' }), /^TypeError: runId must be a non-empty string/);
  await assert.rejects(run.resolveApproval(), /resolveApproval takes an answer: \{ approvalId, requestId, decision, scope, reason, by \}/);
  await run.cancel();
});

test('the positional resolveApproval still works, with one DeprecationWarning per process', async (t) => {
  const e = env(t);
  const script = `
    const { Host } = require(${JSON.stringify(path.resolve(__dirname, '..'))});
    const { sh } = require(${JSON.stringify(path.join(__dirname, 'helpers.js'))});
    const warnings = [];
    process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
    (async () => {
      const host = new Host({ store: ${JSON.stringify(e.store)}, workspaceRoot: ${JSON.stringify(e.workspace)}, useEnvironment: false,
        pluginPaths: [${JSON.stringify(asksFirstPlugin())}] });
      const decisions = [];
      for (const [i, answer] of [[1, (run, id) => run.resolveApproval(id, true, 'positional')], [2, (run, id) => host.resolveApproval(run.id, id, false)]]) {
        const run = await host.dispatch(sh('echo ran', { prompt: 'go [ask]', idempotencyKey: 'k' + i }));
        for await (const ev of run.events()) {
          if (ev.type === 'approval.required') await answer(run, ev.payload.approval_id);
          if (ev.type === 'approval.resolved') decisions.push(ev.payload.decision + ':' + (ev.payload.reason ?? ''));
        }
      }
      await host.close();
      await new Promise((r) => setImmediate(r));
      console.log(JSON.stringify({ decisions, warnings }));
    })();`;
  const r = await node(script);
  assert.equal(r.code, 0, r.stderr);
  const { decisions, warnings } = JSON.parse(r.stdout.trim().split('\n').at(-1));
  assert.deepEqual(decisions, ['allow:positional', 'deny:']);
  assert.equal(warnings.length, 1, JSON.stringify(warnings));
  assert.equal(warnings[0].name, 'DeprecationWarning');
  assert.equal(warnings[0].code, 'RUNHOST_DEP0001');
  assert.match(warnings[0].message, /positional arguments is deprecated: pass one object, run.resolveApproval\(\{ approvalId, decision: 'allow' \| 'deny', reason \}\)/);
});
