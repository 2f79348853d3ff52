'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { Host } = require('..');
const { tempDirs, customDispatch } = require('./helpers');

test('a custom-runtime run streams its events end to end', async (t) => {
  const dirs = tempDirs();
  t.after(dirs.cleanup);
  const host = new Host({ store: dirs.store, workspaceRoot: dirs.workspace, useEnvironment: false });
  try {
    const run = await host.dispatch(customDispatch(['sh', '-c', 'echo hello; echo world'], { cwd: dirs.workspace }));
    assert.equal(run.created, true);
    assert.match(run.id, /\S/);
    const events = [];
    for await (const ev of run.events()) events.push(ev);
    const types = events.map((e) => e.type);
    assert.equal(types[0], 'run.started', types.join(','));
    assert.equal(types.at(-1), 'run.completed', types.join(','));
    assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i + 1));
    const text = JSON.stringify(events);
    assert.match(text, /hello/);
    assert.match(text, /world/);
    const info = await run.refresh();
    assert.equal(info.status, 'succeeded');
    // A second stream replays from the store; `after` skips.
    const again = [];
    for await (const ev of run.events({ after: 1 })) again.push(ev);
    assert.deepEqual(again, events.slice(1));
    assert.deepEqual(await host.events(run.id), events);
  } finally {
    await host.close();
  }
});
