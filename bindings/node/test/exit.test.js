'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { tempDirs } = require('./helpers');

test('a script that never calls close() exits 0 once its run ends (no handle left open)', async (t) => {
  const dirs = tempDirs();
  t.after(dirs.cleanup);
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'no-close.js'), dirs.store, dirs.workspace],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const LIMIT_MS = 20000;
  const result = await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve({ timedOut: true }); }, LIMIT_MS);
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal }); });
  });
  assert.ok(!result.timedOut, `the child did not exit within ${LIMIT_MS} ms (a handle was left open); stdout: ${out} stderr: ${err}`);
  assert.equal(result.signal, null, err);
  assert.equal(result.code, 0, err);
  assert.equal(out.trim(), 'run.completed', err);
});
