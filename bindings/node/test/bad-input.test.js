'use strict';
// Bad input gets clear errors: wrong argument types, calls after close(), a stream iterated
// twice, a listener that throws. None of them crashes the process or stops a run.
const test = require('node:test');
const assert = require('node:assert/strict');
const runhost = require('..');
const { Host, HostClosedError, StreamConsumedError, EventHandlerError } = runhost;
const { env, sh, collect, node } = require('./helpers');

test('wrong Host options are TypeErrors or RangeErrors naming the option', (t) => {
  const e = env(t);
  const cases = [
    [{ pluginPaths: '/opt/plugins' }, TypeError, /pluginPaths must be an array/],
    [{ store: 42 }, TypeError, /store must be a path/],
    [{ store: '' }, TypeError, /store must be a path/],
    [{ store: new URL('https://example.invalid/db') }, TypeError, /file: URL/],
    [{ defaultTimeoutSeconds: 'soon' }, TypeError, /defaultTimeoutSeconds must be an integer/],
    [{ defaultTimeoutSeconds: 0 }, RangeError, /defaultTimeoutSeconds must be an integer >= 1/],
    [{ maxOutputBytes: 1.5 }, TypeError, /maxOutputBytes must be an integer/],
    [{ durable: 'yes' }, TypeError, /durable must be a boolean/],
    [{ pluginConfig: { custom: 3n } }, TypeError, /pluginConfig\["custom"\] JSON cannot represent a bigint/],
    [{ pluginConfig: [] }, TypeError, /pluginConfig must be an object/],
    [{ artifactPatterns: ['*.txt', ''] }, TypeError, /artifactPatterns\[1\] must be a non-empty string/],
    [{ stor: e.store }, TypeError, /unknown Host option "stor"/],
    [{ miosa: 'x' }, TypeError, /miosa must be an object \{ baseUrl, apiKey, tenant, templateId \}, not the string "x"/],
    [{ miosa: [] }, TypeError, /miosa must be an object/],
    [{ miosa: { apiKey: 5 } }, TypeError, /miosa\.apiKey must be a string, not a number/],
    [{ miosa: { baseUrl: new URL('http://127.0.0.1:1') } }, TypeError, /miosa\.baseUrl must be a string, not a URL/],
    [{ miosa: { apikey: 'k' } }, TypeError, /unknown miosa option "apikey" \(the options: baseUrl, apiKey, tenant, templateId\)/],
  ];
  for (const [options, cls, message] of cases) {
    assert.throws(() => new Host({ store: e.store, ...options }), (err) => err instanceof cls && message.test(err.message),
      JSON.stringify(options, (k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  }
  assert.throws(() => new Host('runhost.db'), /Host options must be an object/);
  assert.throws(() => new Host(null), /Host options must be an object/);
});

test('a MIOSA key of the wrong type is named, never quoted', (t) => {
  const e = env(t);
  const secret = 'msk_live_never_quoted_0123456789';
  for (const apiKey of [[secret], { key: secret }, Buffer.from(secret)]) {
    assert.throws(() => new Host({ store: e.store, miosa: { apiKey } }), (err) =>
      err instanceof TypeError && /miosa\.apiKey must be a string/.test(err.message) && !err.message.includes(secret));
  }
});

test('the addon itself refuses wrong MIOSA options with a TypeError, never a crash', () => {
  // lib/validate.js checks first; the addon still defends itself when called directly.
  const { NativeHost } = require('../lib/native');
  for (const [options, message] of [
    [{ miosa: 'x' }, /miosa must be an object/],
    [{ miosa: 7 }, /miosa must be an object/],
    [{ miosa: [] }, /miosa must be an object/],
    [{ miosa: { apiKey: 5 } }, /miosa\.apiKey must be a string/],
    [{ miosa: { baseUrl: {} } }, /miosa\.baseUrl must be a string/],
    [{ miosa: { tenant: true } }, /miosa\.tenant must be a string/],
    [{ miosa: { templateId: 1n } }, /miosa\.templateId must be a string/],
  ]) {
    assert.throws(() => new NativeHost().open(options), (err) => err instanceof TypeError && message.test(err.message), JSON.stringify(options, (k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
  }
});

test('wrong arguments to the methods are TypeErrors or RangeErrors naming the argument', async (t) => {
  const host = env(t).host();
  const cases = [
    [() => host.run(123), TypeError, /runId must be a non-empty string/],
    [() => host.cancel(null), TypeError, /runId must be a non-empty string/],
    [() => host.events('run_x', { after: '3' }), TypeError, /after must be an integer/],
    [() => host.events('run_x', { after: -1 }), RangeError, /after must be an integer >= 0/],
    [() => host.events('run_x', 3), TypeError, /events options must be an object/],
    [() => host.runs({ limit: 0 }), RangeError, /limit must be an integer >= 1/],
    [() => host.runs({ tenantId: 7 }), TypeError, /tenantId must be a non-empty string/],
    [() => host.resolveApproval({ runId: 'run_x', approvalId: 'apr_x', decision: 'yes' }), TypeError, /decision must be "allow" or "deny", not the string "yes"/],
    [() => host.dispatch(sh('true'), { signal: 'stop' }), TypeError, /signal must be an AbortSignal/],
  ];
  for (const [call, cls, message] of cases) {
    await assert.rejects(call(), (err) => err instanceof cls && message.test(err.message), call.toString());
  }
  const run = await host.dispatch(sh('true'));
  assert.throws(() => run.events({ after: 1.5 }), /after must be an integer/);
  await assert.rejects(run.wait({ check: 'yes' }), /check must be a boolean/);
  await run.wait();
});

test('an unknown run is null, and its events are RunNotFoundError', async (t) => {
  const host = env(t).host();
  assert.equal(await host.run('run_unknown'), null);
  await assert.rejects(host.events('run_unknown'), runhost.RunNotFoundError);
});

test('every call after close() rejects with HostClosedError; close() is idempotent', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('true'));
  await run.wait();
  const closing = host.close();
  assert.equal(host.close(), closing);
  assert.equal(host.closed, true);
  await closing;
  for (const call of [
    () => host.dispatch(sh('true')), () => host.runs(), () => host.run(run.id), () => host.events(run.id),
    () => host.cancel(run.id), () => host.resolveApproval({ runId: run.id, approvalId: 'apr_x', decision: 'allow' }), () => host.plugins(),
    () => run.refresh(), () => run.cancel(), () => run.wait(), () => collect(run.events()),
  ]) {
    await assert.rejects(call(), HostClosedError, call.toString());
  }
});

test('a stream waiting when the host closes ends with HostClosedError; the run was cancelled', async (t) => {
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh('echo started; sleep 30'));
  const stream = run.events();
  const seen = [];
  const reading = (async () => { for await (const ev of stream) seen.push(ev.type); })();
  reading.catch(() => {});  // asserted below, after close()
  while (!seen.includes('command.output')) await new Promise((r) => setTimeout(r, 10));
  await host.close();
  await assert.rejects(reading, HostClosedError);
  const again = e.host();
  const types = (await again.events(run.id)).map((ev) => ev.type);
  assert.equal(types.at(-1), 'run.cancelled', types.join(','));
});

test('an ended stream iterated again is StreamConsumedError; run.events() replays', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo x'));
  const stream = run.events();
  const first = await collect(stream);
  assert.equal(first.at(-1).type, 'run.completed');
  assert.equal(stream.ended, true);
  await assert.rejects(collect(stream), (e) => e instanceof StreamConsumedError && /call|run\.events\(\)/.test(e.message));
  assert.deepEqual(await stream.next(), { value: undefined, done: true }, 'an exhausted iterator stays exhausted');
  assert.deepEqual(await collect(run.events()), first);
});

test('a loop that breaks closes its stream; run.events({ after: cursor }) goes on', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('for i in 1 2 3 4; do echo $i; done'));
  await run.wait();
  const stream = run.events();
  const head = [];
  for await (const ev of stream) {
    head.push(ev);
    if (head.length === 2) break;
  }
  assert.equal(stream.cursor, 2);
  await assert.rejects(collect(stream), StreamConsumedError);
  const tail = await collect(run.events({ after: stream.cursor }));
  assert.deepEqual([...head, ...tail].map((e) => e.seq), [...head, ...tail].map((_, i) => i + 1));
});

test('a stream closed before anyone read it iterates as empty', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo x'));
  const stream = run.events();
  await stream.return();
  assert.deepEqual(await collect(stream), []);
  await assert.rejects(collect(stream), StreamConsumedError, 'but only once');
  assert.equal((await collect(run.events())).at(-1).type, 'run.completed');
});

test('one reader at a time per stream', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo a; sleep 0.3; echo b'));
  const stream = run.events();
  const pending = stream.next();
  await assert.rejects(stream.next(), /another call on the same stream is pending/);
  assert.equal((await pending).value.type, 'run.started');
  await stream.return();
  const other = run.events();
  const loop = (async () => { for await (const ev of other) void ev; })();
  assert.throws(() => { other[Symbol.asyncIterator](); }, StreamConsumedError, 'a second loop over a stream in use');
  await loop;
});

test("a listener that throws is reported as 'error'; the other listeners, the events and the run go on", async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo one; echo two; echo three'));
  const good = [];
  const failures = [];
  run.on('event', (ev) => { if (ev.type === 'command.output') throw new Error(`boom at ${ev.seq}`); });
  run.on('event', async (ev) => { if (ev.type === 'run.completed') throw new Error('async boom'); });
  run.on('event', (ev) => good.push(ev.type));
  run.on('error', (err) => failures.push(err));
  const last = await new Promise((resolve) => run.once('end', resolve));
  await new Promise((r) => setImmediate(r));  // the async listener's rejection
  assert.equal(last.type, 'run.completed');
  assert.deepEqual(good, ['run.started', 'command.output', 'command.output', 'command.output', 'run.completed']);
  assert.equal(failures.length, 4, failures.map(String).join('\n'));
  for (const f of failures) {
    assert.ok(f instanceof EventHandlerError);
    assert.equal(f.code, 'event_handler_failed');
    assert.ok(f.cause instanceof Error);
    assert.match(f.message, new RegExp(`event ${f.event.seq} \\(${f.event.type}\\)`));
  }
  assert.equal(failures.at(-1).cause.message, 'async boom');
  assert.equal((await run.refresh()).status, 'succeeded');
});

test("a throwing listener with no 'error' listener is a process warning, not a crash", async () => {
  const script = `
    const { Host } = require('..');
    const { sh, tempDirs } = require('./helpers');
    const dirs = tempDirs();
    (async () => {
      const host = new Host({ store: dirs.store, workspaceRoot: dirs.workspace, useEnvironment: false });
      const run = await host.dispatch(sh('echo a; echo b', { cwd: dirs.workspace }));
      const seen = [];
      run.on('event', (ev) => { seen.push(ev.type); throw new Error('listener bug'); });
      await new Promise((resolve) => run.on('end', resolve));
      console.log(JSON.stringify(seen));
      await host.close();
      dirs.cleanup();
    })();`;
  const r = await node(script);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['run.started', 'command.output', 'command.output', 'run.completed']);
  assert.match(r.stderr, /EventHandlerError|listener bug/);
  assert.equal(r.stderr.match(/\[event_handler_failed\] EventHandlerError/g).length, 4, 'one warning per throw');
});
