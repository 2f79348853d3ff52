'use strict';
// Every error: one RunhostError subclass per code of the core's table, each carrying code,
// retryable and recovery, raised where the host raises it; run.failed's error as the class of
// its code through run.wait({ check: true }) and errorFromEvent().
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const runhost = require('..');
const { Host, RunhostError } = runhost;
const { REPO, env, sh, collect, customDispatch, jsonlLine, node, hostScript } = require('./helpers');

// The codes a run can fail with: the event schema's enum for run.failed.payload.error.code.
const RUN_FAILED_CODES = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'events.schema.json'), 'utf8'))
  .$defs.error.properties.code.enum;

const className = (code) => code.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Error';

test('one class per code of the core table, exported by name', () => {
  const codes = runhost.errorCodes.map((c) => c.code);
  assert.ok(codes.includes('invalid_dispatch') && codes.includes('store_unavailable'), codes.join(','));
  assert.equal(new Set(codes).size, codes.length);
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'events.schema.json'), 'utf8'));
  const actions = schema.$defs.recovery.properties.action.enum;
  for (const { code, retryable, recoveryAction } of runhost.errorCodes) {
    const cls = runhost[className(code)];
    assert.equal(typeof cls, 'function', `${className(code)} is exported`);
    assert.equal(cls.defaultRecoveryAction, recoveryAction, code);
    assert.ok(actions.includes(recoveryAction), `${code}: ${recoveryAction} is a recovery action of the schema`);
    const e = new cls('m');
    assert.ok(e instanceof RunhostError && e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.name, className(code));
    assert.equal(e.retryable, retryable);
    assert.equal(e.recovery, null);
  }
  assert.throws(() => { runhost.errorCodes.push({}); }, TypeError, 'the table is frozen');
});

test('run_not_found answers calls only; every other code is a failure a run can have', () => {
  const codes = runhost.errorCodes.map((c) => c.code);
  assert.ok(codes.includes('run_not_found'));
  assert.ok(!RUN_FAILED_CODES.includes('run_not_found'), 'never a run\'s failure');
  assert.deepEqual(RUN_FAILED_CODES.filter((c) => !codes.includes(c)), [], 'every failure a run can have has its class');
  const e = new runhost.RunNotFoundError("no run 'run_1'");
  assert.equal(e.code, 'run_not_found');
  assert.equal(e.retryable, false);
});

test('invalid_dispatch names the missing field, and no run is created', async (t) => {
  const host = env(t).host();
  const d = sh('true');
  delete d.tenantId;
  await assert.rejects(host.dispatch(d), (e) => {
    assert.ok(e instanceof runhost.InvalidDispatchError);
    assert.equal(e.code, 'invalid_dispatch');
    assert.equal(e.retryable, false);
    assert.equal(e.field, 'tenantId');
    assert.equal(e.action, 'fix_dispatch');
    assert.deepEqual(e.recovery, { action: 'fix_dispatch', field: 'tenantId' });
    assert.match(e.message, /"tenantId" is required/);
    return true;
  });
  assert.deepEqual(await host.runs(), []);
});

test('invalid_dispatch for a value of the wrong type names the field', async (t) => {
  const host = env(t).host();
  const cases = [
    ['tenantId', 5, 'tenantId', /must be a string/],
    ['prompt', ['a'], 'prompt', /must be a string/],
    ['command', 'ls -la', 'command', /must be an array of strings/],
    ['command', ['ls', 3], 'command[1]', /must be a non-empty string/],
    ['deviceType', 'phone', 'deviceType', /must be one of/],
    ['timeoutSeconds', 1.5, 'timeoutSeconds', /whole number of seconds/],
    ['timeoutSeconds', true, 'timeoutSeconds', /whole number of seconds/],
    ['tenant_id', 't1', 'tenant_id', /is not a field of DevicePromptDispatch/],
  ];
  for (const [field, value, named, problem] of cases) {
    await assert.rejects(host.dispatch({ ...sh('true'), [field]: value }), (e) => {
      assert.ok(e instanceof runhost.InvalidDispatchError, `${field}=${JSON.stringify(value)}: ${e}`);
      assert.equal(e.field, named);
      assert.match(e.message, problem);
      return true;
    });
  }
  assert.deepEqual(await host.runs(), []);
});

test('a value JSON cannot hold is invalid_dispatch naming its field; undefined means absent', async (t) => {
  const host = env(t).host();
  const circular = { a: 1 };
  circular.self = circular;
  const cases = [
    [{ prompt: 10n }, 'prompt', /JSON cannot represent a bigint/],
    [{ prompt: NaN }, 'prompt', /JSON cannot represent NaN/],
    [{ timeoutSeconds: Infinity }, 'timeoutSeconds', /JSON cannot represent Infinity/],
    [{ prompt: () => 'x' }, 'prompt', /JSON cannot represent a function/],
    [{ prompt: Symbol('s') }, 'prompt', /JSON cannot represent a symbol/],
    [{ prompt: new Date(0) }, 'prompt', /JSON cannot represent a Date/],
    [{ connectors: new Set(['a']) }, 'connectors', /JSON cannot represent a Set/],
    [{ command: ['ls', undefined] }, 'command[1]', /JSON cannot represent undefined/],
    [{ extra: circular }, 'extra.self', /circular/],
  ];
  for (const [fields, named, problem] of cases) {
    await assert.rejects(host.dispatch({ ...sh('true'), ...fields }), (e) => {
      assert.ok(e instanceof runhost.InvalidDispatchError, `${named}: ${e}`);
      assert.equal(e.field, named);
      assert.match(e.message, problem);
      assert.match(e.message, new RegExp(`^invalid dispatch: "${named.replace(/[[\]]/g, '\\$&')}"`));
      return true;
    });
  }
  assert.deepEqual(await host.runs(), []);
  const run = await host.dispatch({ ...sh('true'), cwd: undefined });
  assert.equal((await run.wait()).status, 'succeeded', 'an undefined member is left out');
});

test('a dispatch that is not a plain object is a TypeError', async (t) => {
  const host = env(t).host();
  for (const bad of [undefined, null, 'tenantId=t1', [['tenantId', 't1']], 42, new Map()]) {
    await assert.rejects(host.dispatch(bad), (e) => e instanceof TypeError && /dispatch must be a DevicePromptDispatch object/.test(e.message));
  }
});

test('idempotency: the same key gives the same run; another request with it is idempotency_conflict', async (t) => {
  const host = env(t).host();
  const first = await host.dispatch(sh('echo one', { idempotencyKey: 'k1' }));
  const again = await host.dispatch(sh('echo one', { idempotencyKey: 'k1' }));
  assert.equal(first.created, true);
  assert.equal(again.created, false);
  assert.equal(again.id, first.id);
  await assert.rejects(host.dispatch(sh('echo two', { idempotencyKey: 'k1' })), (e) => {
    assert.ok(e instanceof runhost.IdempotencyConflictError);
    assert.equal(e.retryable, false);
    assert.match(e.message, new RegExp(`idempotency key 'k1' was already used by run ${first.id}`));
    return true;
  });
  assert.equal((await host.runs()).length, 1);
});

test('plugin_error when a plugin refuses its configuration', async (t) => {
  const host = env(t).host({ pluginConfig: { 'deny-pattern': '[1, 2]' } });
  await assert.rejects(host.ready, (e) => e instanceof runhost.PluginErrorError && /deny-pattern/.test(e.message));
  await assert.rejects(host.runs(), runhost.PluginErrorError, 'every call reports why the host is not open');
  await host.close();
});

test('store_unavailable when the store cannot be opened', async (t) => {
  const e = env(t);
  fs.writeFileSync(path.join(e.root, 'a-file'), '');
  await assert.rejects(Host.open({ store: path.join(e.root, 'a-file', 'runhost.db'), workspaceRoot: e.workspace }), (err) => {
    assert.ok(err instanceof runhost.StoreUnavailableError, String(err));
    assert.equal(err.retryable, true);
    return true;
  });
});

test('a workspace root that is not a directory is refused at open', async (t) => {
  const e = env(t);
  await assert.rejects(Host.open({ store: e.store, workspaceRoot: path.join(e.root, 'nowhere') }),
    (err) => err instanceof runhost.InvalidDispatchError && /is not a directory/.test(err.message));
});

test('a stream rejects with StoreUnavailableError when the host cannot record the run', async (t) => {
  // The host checks every second that its store file is still there; a deleted one ends its runs,
  // and every stream following them rejects with the typed error rather than waiting for ever.
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh('echo started; sleep 60'));
  const stream = run.events();
  assert.deepEqual([(await stream.next()).value.type, (await stream.next()).value.type], ['run.started', 'command.output']);
  fs.unlinkSync(e.store);
  const started = Date.now();
  await assert.rejects(collect(stream), (err) => {
    assert.ok(err instanceof runhost.StoreUnavailableError, String(err));
    assert.equal(err.retryable, true);
    return true;
  });
  assert.ok(Date.now() - started < 15000);
  const reported = new Promise((resolve) => run.on('error', resolve));
  run.on('event', () => {});
  assert.ok(await reported instanceof runhost.StoreUnavailableError, 'the emitter reports it on \'error\'');
  await assert.rejects(run.wait({ signal: AbortSignal.timeout(15000) }), runhost.StoreUnavailableError);
});

// ---- run.failed: the event carries the error; wait({ check: true }) rejects with it -----------

async function failureOf(run) {
  let caught = null;
  await run.wait({ check: true }).catch((e) => { caught = e; });
  assert.ok(caught instanceof RunhostError, `wait({check: true}) rejected with ${caught}`);
  const last = (await run.host.events(run.id)).at(-1);
  assert.equal(last.type, 'run.failed');
  const error = last.payload.error;
  assert.equal(caught.code, error.code);
  assert.equal(caught.message, error.message);
  assert.equal(caught.retryable, error.retryable);
  assert.deepEqual(caught.recovery, error.recovery ?? null);
  assert.equal(caught.runId, run.id);
  assert.equal(caught.constructor, runhost[className(error.code)]);
  const fromEvent = runhost.errorFromEvent(last);
  assert.equal(fromEvent.constructor, caught.constructor);
  assert.equal(fromEvent.message, caught.message);
  assert.equal((await run.refresh()).errorCode, error.code);
  return caught;
}

test('policy_denied', async (t) => {
  const host = env(t).host();
  const e = await failureOf(await host.dispatch(sh('true', { prompt: 'rm -rf /home/someone' })));
  assert.ok(e instanceof runhost.PolicyDeniedError);
  assert.equal(e.action, 'review_policy');
  assert.equal(e.recovery.policy, 'deny-pattern');
});

test('connector_authorization_missing carries the connect action', async (t) => {
  const host = env(t).host();
  const e = await failureOf(await host.dispatch(sh('true', { connectors: ['static-grant'], userId: 'no-grant' })));
  assert.ok(e instanceof runhost.ConnectorAuthorizationMissingError);
  assert.equal(e.action, 'connect_account');
  assert.equal(e.recovery.connect_url, 'https://connect.invalid/static-grant');
  assert.equal(e.recovery.connector, 'static-grant');
  assert.equal(e.retryable, false);
});

test('runtime_not_found, runtime_error, runtime_crashed, timeout', async (t) => {
  const host = env(t).host();
  const cases = [
    [customDispatch(['runhost-no-such-command']), runhost.RuntimeNotFoundError, false, 'install_runtime'],
    [sh('exit 3'), runhost.RuntimeErrorError, false, null],
    [sh('kill -KILL $$'), runhost.RuntimeCrashedError, true, 'retry'],
    [sh('sleep 30', { timeoutSeconds: 1 }), runhost.TimeoutError, true, null],
  ];
  const runs = await Promise.all(cases.map(([d]) => host.dispatch(d)));
  for (const [i, run] of runs.entries()) {
    const [, cls, retryable, action] = cases[i];
    const e = await failureOf(run);
    assert.ok(e instanceof cls, `${cls.name}: got ${e.name}: ${e.message}`);
    assert.equal(e.retryable, retryable, cls.name);
    if (action) assert.equal(e.action, action, cls.name);
  }
});

test('device_unavailable: a host without a sandbox driver refuses the dispatch, recording nothing', async (t) => {
  const host = env(t).host();
  await assert.rejects(host.dispatch(sh('true', { deviceType: 'sandbox' })), (e) => {
    assert.ok(e instanceof runhost.DeviceUnavailableError, `${e.name}: ${e.message}`);
    assert.equal(e.recovery.action, 'configure_device');
    assert.equal(e.recovery.field, 'deviceType');
    assert.match(e.message, /MIOSA_API_KEY/);
    return true;
  });
  assert.deepEqual((await host.runs()).filter((r) => r.deviceType === 'sandbox'), []);
});

test('device_lost after the owning host died', async (t) => {
  const e = env(t);
  // A host in another process starts a run and dies without closing; the next host to open the
  // store recovers the run as failed with device_lost, its events kept.
  const child = await node(hostScript(e, `
      const host = openHost();
      const run = await host.dispatch(sh('echo started; sleep 5', { cwd: workspace }));
      for await (const ev of run.events()) if (ev.type === 'command.output') break;
      console.log(run.id);
      process.kill(process.pid, 'SIGKILL');`));
  assert.equal(child.signal, 'SIGKILL', child.stderr);
  const runId = child.stdout.trim();
  assert.match(runId, /^run_/);
  const host = e.host();
  const run = await host.run(runId);
  const err = await failureOf(run);
  assert.ok(err instanceof runhost.DeviceLostError);
  assert.equal(err.retryable, true);
  const types = (await host.events(runId)).map((ev) => ev.type);
  assert.deepEqual(types.slice(0, 2), ['run.started', 'command.output'], 'the events before the loss are kept');
});

test('every run.failed code rejects wait({ check: true }) with its own class', async (t) => {
  const host = env(t).host();
  // The custom runtime's jsonl mode passes a run.failed line through as the terminal event: every
  // code the schema allows, with a retryable that differs from the default.
  const codes = runhost.errorCodes.filter((c) => RUN_FAILED_CODES.includes(c.code));
  const runs = await Promise.all(codes.map(({ code, retryable }) => {
    const error = { code, message: `failing with ${code}`, retryable: !retryable, recovery: { action: 'contact_support', hint: `about ${code}` } };
    return host.dispatch(sh(jsonlLine('run.failed', { error }), { outputMode: 'jsonl' }));
  }));
  for (const [i, run] of runs.entries()) {
    const { code, retryable } = codes[i];
    const e = await failureOf(run);
    assert.equal(e.code, code);
    assert.equal(e.retryable, !retryable, 'the event\'s retryable wins over the default');
    assert.deepEqual(e.recovery, { action: 'contact_support', hint: `about ${code}` });
  }
});

test('a failed run is not an exception while iterating, nor for wait() without check', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo trying; exit 2'));
  const events = [];
  for await (const ev of run.events()) events.push(ev);
  assert.equal(events.at(-1).type, 'run.failed');
  assert.equal(events.at(-1).payload.error.code, 'runtime_error');
  assert.ok(runhost.errorFromEvent(events.at(-1)) instanceof runhost.RuntimeErrorError);
  assert.equal(runhost.errorFromEvent(events[0]), null);
  const info = await run.wait();
  assert.equal(info.status, 'failed');
  assert.equal(info.errorCode, 'runtime_error');
});

test('a cancelled run rejects wait({ check: true }) with CancelledError', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo go; sleep 30'));
  for await (const ev of run.events()) if (ev.type === 'command.output') break;
  await run.cancel();
  await assert.rejects(run.wait({ check: true }), (e) => e instanceof runhost.CancelledError && e.runId === run.id);
  assert.equal((await run.wait()).status, 'cancelled');
});

test('an unknown code from elsewhere is the base class', () => {
  const e = runhost.errorFromEvent({ type: 'run.failed', run_id: 'run_x', payload: { error: { code: 'from_the_future', message: 'm', retryable: true } } });
  assert.equal(e.constructor, RunhostError);
  assert.equal(e.code, 'from_the_future');
  assert.equal(e.retryable, true);
});
