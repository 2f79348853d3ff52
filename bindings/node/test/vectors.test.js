'use strict';
// The shared JSON vectors (tests/vectors, rules in tests/vectors/README.md), as the C++ suite and
// bindings/python/tests/test_vectors.py run them.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const runhost = require('..');
const { REPO, tempDirs, checkStream } = require('./helpers');

const DIR = path.join(REPO, 'tests', 'vectors');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('the vectors are there', () => {
  assert.ok(FILES.length >= 10, `expected the shared vectors in ${DIR}`);
});

/** Objects compare key by key, recursively; arrays and scalars exactly. */
function subset(expected, actual, where) {
  if (expected !== null && typeof expected === 'object' && !Array.isArray(expected)) {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    for (const [k, v] of Object.entries(expected)) {
      if (!(k in actual)) { where.push(`${k} (missing)`); return false; }
      if (!subset(v, actual[k], where)) { where.unshift(k); return false; }
    }
    return true;
  }
  return JSON.stringify(expected) === JSON.stringify(actual);
}

for (const file of FILES) {
  test(`vector ${path.basename(file, '.json')}`, { timeout: 60000 }, async (t) => {
    const vector = JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
    const expect = vector.expect;
    const dirs = tempDirs();
    t.after(dirs.cleanup);
    const host = new runhost.Host({ store: dirs.store, workspaceRoot: dirs.workspace, useEnvironment: false });
    try {
      const dispatch = { cwd: dirs.workspace, ...vector.dispatch };
      if (expect.error) {
        const want = expect.error;
        await assert.rejects(host.dispatch(dispatch), (e) => {
          assert.ok(e instanceof runhost.RunhostError, String(e));
          assert.equal(e.code, want.code, e.message);
          const name = want.code.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Error';
          assert.equal(e.constructor, runhost[name]);
          if (want.field) assert.equal(e.field ?? e.recovery?.field, want.field, e.message);
          if (want.message_contains) assert.ok(e.message.includes(want.message_contains), e.message);
          return true;
        });
        assert.deepEqual(await host.runs(), [], 'a refused dispatch creates no run');
        return;
      }
      const run = await host.dispatch(dispatch);
      const events = [];
      for await (const ev of run.events()) events.push(ev);
      checkStream(events);
      assert.deepEqual(events.map((e) => e.type), expect.events.map((w) => w.type));
      expect.events.forEach((want, i) => {
        for (const part of ['payload', 'source']) {
          if (!(part in want)) continue;
          const where = [];
          assert.ok(subset(want[part], events[i][part], where),
            `event ${i + 1} (${want.type}) ${part} differs at ${where.join('/')}: ${JSON.stringify(events[i][part])}`);
        }
      });
      assert.equal((await run.refresh()).status, expect.status);
    } finally {
      await host.close();
    }
  });
}
