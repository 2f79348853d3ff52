'use strict';
// Runs end to end through the real custom runtime: a local process, its output, the files it
// writes, the store; every event a plain object matching docs/events.schema.json.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { env, sh, collect, checkStream, node, hostScript } = require('./helpers');

test('a custom-runtime run streams its events end to end', async (t) => {
  const e = env(t);
  const host = e.host();
  const run = await host.dispatch(sh('echo hello; echo world >&2; printf "notes" > notes.txt; printf "%s" "$(cat)" > prompt.txt', {
    cwd: e.workspace, prompt: 'the prompt on stdin',
  }));
  assert.equal(run.created, true);
  assert.match(run.id, /^run_/);
  assert.equal(run.info.status, 'queued');
  const events = await collect(run.events());
  checkStream(events);
  const types = events.map((ev) => ev.type);
  assert.equal(types[0], 'run.started', types.join(','));
  assert.equal(types.at(-1), 'run.completed', types.join(','));
  const output = events.filter((ev) => ev.type === 'command.output').map((ev) => [ev.payload.stream, ev.payload.text]);
  assert.deepEqual(output, [['stdout', 'hello'], ['stderr', 'world']]);
  const changed = events.filter((ev) => ev.type === 'file.changed').map((ev) => ev.payload.path).sort();
  assert.deepEqual([...new Set(changed)], ['notes.txt', 'prompt.txt'], 'file.changed from the device itself');
  assert.equal(fs.readFileSync(path.join(e.workspace, 'prompt.txt'), 'utf8'), 'the prompt on stdin');
  for (const ev of events) {
    assert.equal(Object.getPrototypeOf(ev), Object.prototype, 'a plain object');
    assert.equal(ev.run_id, run.id);
    assert.equal(ev.tenant_id, 't1');
    assert.deepEqual(ev.device, { type: 'local', id: 'node-test' });
  }
  const info = await run.refresh();
  assert.equal(info.status, 'succeeded');
  assert.equal(info.lastSeq, events.length);
  // A second stream replays from the store; `after` skips; host.events reads without waiting.
  assert.deepEqual(await collect(run.events({ after: 1 })), events.slice(1));
  assert.deepEqual(await host.events(run.id), events);
  assert.deepEqual(await host.events(run.id, { after: 2, limit: 1 }), [events[2]]);
  const runs = await host.runs({ tenantId: 't1' });
  assert.deepEqual(runs.map((r) => r.id), [run.id]);
  assert.deepEqual(await host.runs({ tenantId: 'someone-else' }), []);
  assert.deepEqual((await host.runs({ status: 'succeeded' })).map((r) => r.id), [run.id]);
});

test('an artifact and a preview: ground truth from the device', async (t) => {
  const e = env(t);
  const host = e.host();
  const server = 'import http.server,socketserver; s=socketserver.TCPServer(("127.0.0.1",0),http.server.SimpleHTTPRequestHandler); s.timeout=3; s.handle_request()';
  const run = await host.dispatch(sh(`printf 'PNG' > chart.png; python3 -c '${server}' & sleep 1.5; kill %1 2>/dev/null; true`, { cwd: e.workspace }));
  const events = await collect(run.events());
  checkStream(events);
  const artifact = events.find((ev) => ev.type === 'artifact.created');
  assert.ok(artifact, events.map((ev) => ev.type).join(','));
  assert.equal(artifact.payload.path, 'chart.png');
  assert.equal(artifact.payload.size_bytes, 3);
  assert.equal(artifact.payload.sha256, require('node:crypto').createHash('sha256').update('PNG').digest('hex'));
  const preview = events.find((ev) => ev.type === 'preview.ready');
  assert.ok(preview, events.map((ev) => ev.type).join(','));
  assert.match(preview.payload.url, /^http:\/\/(127\.0\.0\.1|localhost):\d+/);
});

test('two concurrent runs, and twenty: each stream gets its own run only', async (t) => {
  const e = env(t);
  const host = e.host();
  const [a, b] = await Promise.all([
    host.dispatch(sh('for i in 1 2 3; do echo a$i; done', { cwd: e.workspace })),
    host.dispatch(sh('for i in 1 2 3; do echo b$i; done', { cwd: e.workspace })),
  ]);
  const [ea, eb] = await Promise.all([collect(a.events()), collect(b.events())]);
  checkStream(ea);
  checkStream(eb);
  assert.deepEqual(ea.filter((x) => x.type === 'command.output').map((x) => x.payload.text), ['a1', 'a2', 'a3']);
  assert.deepEqual(eb.filter((x) => x.type === 'command.output').map((x) => x.payload.text), ['b1', 'b2', 'b3']);

  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => host.dispatch(sh(`for j in 1 2 3 4 5; do echo ${i}-$j; done`))));
  const streams = await Promise.all(many.map((r) => collect(r.events())));
  streams.forEach((events, i) => {
    checkStream(events);
    assert.deepEqual(events.filter((x) => x.type === 'command.output').map((x) => x.payload.text), [1, 2, 3, 4, 5].map((j) => `${i}-${j}`));
  });
});

test('a big output arrives whole and in order, in pages', async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('seq 1 20000'));
  const events = await collect(run.events());
  checkStream(events);
  const lines = events.filter((x) => x.type === 'command.output').map((x) => x.payload.text);
  assert.equal(lines.length, 20000);
  assert.equal(lines[0], '1');
  assert.equal(lines.at(-1), '20000');
});

test('a reader that stops while megabytes are committed goes on from the store, missing and repeating nothing', async (t) => {
  // Live events wait for a reader in memory up to 1 MiB; past that it reads them from the store.
  const host = env(t).host();
  const run = await host.dispatch(sh("yes 'a line of output long enough to fill the buffer quickly, again and again' | head -n 20000"));
  const events = [];
  for await (const ev of run.events()) {
    events.push(ev);
    if (events.length === 100) {
      while ((await host.run(run.id)).status === 'running') await new Promise((r) => setTimeout(r, 50));
    }
  }
  checkStream(events);
  assert.deepEqual(events.map((x) => x.seq), events.map((_, i) => i + 1), 'every seq once, in order');
  assert.equal(events.filter((x) => x.type === 'command.output').length, 20000);
});

test("run.on('event') emits every event, then 'end' with the terminal event", async (t) => {
  const host = env(t).host();
  const run = await host.dispatch(sh('echo x'));
  const seen = [];
  run.on('event', (ev) => seen.push(ev.type));
  const last = await new Promise((resolve, reject) => {
    run.on('end', resolve);
    run.on('error', reject);
  });
  assert.deepEqual(seen, ['run.started', 'command.output', 'run.completed']);
  assert.equal(last.type, 'run.completed');
});

test('a run of another process on the same store is followed live', async (t) => {
  const e = env(t);
  const host = e.host();
  const child = node(hostScript(e, `
      const host = openHost();
      const run = await host.dispatch(sh('echo one; while [ ! -e go ]; do sleep 0.02; done; echo two', { cwd: workspace }));
      console.log(run.id);
      await run.wait();
      await host.close();`));
  let run = null;
  while (!run) {
    await new Promise((r) => setTimeout(r, 20));
    run = (await host.runs())[0] ?? null;
  }
  const followed = await host.run(run.id);
  const events = [];
  for await (const ev of followed.events()) {
    events.push(ev);
    if (ev.type === 'command.output' && ev.payload.text === 'one') fs.writeFileSync(path.join(e.workspace, 'go'), '');
  }
  checkStream(events);
  assert.deepEqual(events.filter((x) => x.type === 'command.output').map((x) => x.payload.text), ['one', 'two']);
  const r = await child;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), run.id);
});
