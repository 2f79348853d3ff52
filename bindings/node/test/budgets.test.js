'use strict';
// Budgets and quotas from Node (docs/budgets.md): new Host({ limits }) on a real store, custom
// jsonl runs printing usage events, a dispatch refused with BudgetExceededError or
// QuotaExceededError carrying the core's recovery, usage() summed per source and walled per
// tenant, and a bad limit refused when the host opens.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Host, BudgetExceededError, QuotaExceededError, InvalidDispatchError } = require('..');
const { env, sh, jsonlLine } = require('./helpers');

/** A jsonl run that reports one usage event of `cost` USD and ends. */
const spending = (cost, fields = {}, source = 'anthropic') =>
  sh(jsonlLine('usage', { source, cost_usd: cost, input_tokens: 10, output_tokens: 5 }), { outputMode: 'jsonl', ...fields });

async function spend(calls, cost, fields, source) {
  return (await calls.dispatch(spending(cost, fields, source))).wait();
}

test('a dispatch past the user\'s daily budget rejects with BudgetExceededError', async (t) => {
  const host = env(t).host({ limits: { budgets: { user_day_usd: 1 } } });
  assert.equal((await spend(host, 0.6)).status, 'succeeded');
  // The second run goes past the budget as it reports: it is stopped, its usage kept.
  const second = await spend(host, 0.6);
  assert.deepEqual([second.status, second.errorCode], ['failed', 'budget_exceeded']);
  await assert.rejects(host.dispatch(spending(0.6)), (err) => {
    assert.ok(err instanceof BudgetExceededError, String(err));
    assert.equal(err.code, 'budget_exceeded');
    assert.equal(err.action, 'raise_budget');
    assert.equal(err.recovery.limit, 'user_day_usd');
    assert.equal(err.recovery.usage_source, 'anthropic');
    assert.match(err.message, /\$1\.20.*user_day_usd/);
    return true;
  });
  assert.equal((await host.runs()).length, 2, 'a refused dispatch leaves no run');
  assert.equal((await spend(host, 0.1, { userId: 'u2' })).status, 'succeeded', 'another user has a budget of their own');
});

test('usage() sums per source, most spent first, and a tenant view sees its own only', async (t) => {
  const host = env(t).host();
  await spend(host, 0.5);
  await spend(host, 0.25);
  await spend(host, 0.125, { userId: 'u2' }, 'openai');
  await spend(host, 1, { tenantId: 't2' }, 'openai');
  assert.deepEqual(await host.forTenant('t1').usage(), [
    { source: 'anthropic', costUsd: 0.75, inputTokens: 20, outputTokens: 10, cachedInputTokens: 0, events: 2 },
    { source: 'openai', costUsd: 0.125, inputTokens: 10, outputTokens: 5, cachedInputTokens: 0, events: 1 },
  ]);
  assert.deepEqual((await host.usage()).map((u) => [u.source, u.costUsd]), [['openai', 1.125], ['anthropic', 0.75]]);
  assert.deepEqual((await host.usage({ userId: 'u2' })).map((u) => [u.source, u.events]), [['openai', 1]]);
  assert.deepEqual((await host.usage({ tenantId: 't2' })).map((u) => u.source), ['openai']);
  const [t2Run] = await host.runs({ tenantId: 't2' });
  assert.deepEqual(await host.forTenant('t1').usage({ runId: t2Run.id }), []);
  assert.deepEqual(await host.forTenant('t1').usage({ tenantId: 't2' }), []);
  assert.equal((await host.forTenant('t2').usage({ runId: t2Run.id }))[0].costUsd, 1);
  const later = (Date.now() + 3600_000) * 1000;
  assert.deepEqual(await host.usage({ sinceUs: later }), []);
  assert.equal((await host.usage({ sinceUs: 1, untilUs: later }))[0].events, 2);
  await assert.rejects(host.usage({ since: 0 }), /unknown usage option "since"/);
  await assert.rejects(host.usage({ untilUs: '2026-01-01' }), TypeError);
  await assert.rejects(host.usage({ sinceUs: -1 }), RangeError);
});

test('a dispatch past the user\'s concurrency rejects with QuotaExceededError', async (t) => {
  const host = env(t).host({ limits: { quotas: { concurrent_per_user: 1 } } });
  const first = await host.dispatch(sh('sleep 30'));
  await assert.rejects(host.dispatch(sh('true')), (err) => {
    assert.ok(err instanceof QuotaExceededError, String(err));
    assert.equal(err.action, 'request_quota');
    assert.equal(err.recovery.limit, 'concurrent_per_user');
    assert.equal(err.recovery.retry_after_ms, 5000);
    assert.equal(err.recovery.usage_source, 'runs');
    return true;
  });
  await (await host.dispatch(sh('true', { userId: 'u2' }))).wait();
  await first.cancel();
  await first.wait();
  assert.equal((await (await host.dispatch(sh('true'))).wait()).status, 'succeeded');
});

test('limits as JSON text, through Host.open, work too', async (t) => {
  const e = env(t);
  const host = await Host.open({ store: e.store, workspaceRoot: e.workspace, useEnvironment: false,
    limits: '{"quotas": {"concurrent_per_user": 0}}' });
  t.after(() => host.close());
  await assert.rejects(host.dispatch(sh('true')), QuotaExceededError);
});

test('a bad limit is refused at open, naming it; a limits that is no object is a TypeError', async (t) => {
  const e = env(t);
  for (const [limits, key] of [[{ budgets: { run_usdd: 1 } }, 'budgets.run_usdd'],
    [{ tenants: { acme: { budgets: { user_day_usd: '20' } } } }, 'tenants.acme.budgets.user_day_usd']]) {
    await assert.rejects(e.host({ limits }).ready, (err) => {
      assert.ok(err instanceof InvalidDispatchError, String(err));
      assert.ok(err.message.includes(key), err.message);
      return true;
    });
  }
  assert.throws(() => new Host({ limits: ['budgets'] }), { name: 'TypeError', message: /limits/ });
  assert.throws(() => new Host({ limits: { budgets: { run_usd: Infinity } } }), { name: 'TypeError', message: /limits/ });
});
