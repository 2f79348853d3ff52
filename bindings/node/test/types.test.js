'use strict';
// lib/index.d.ts must compile under `tsc --noEmit --strict` with a typed sample that uses the
// whole API. Skipped (with the reason) only when typescript is not installed.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

let tsc = null;
let why = '';
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch (e) {
  why = `typescript is not installed (npm install --include=dev): ${e.message.split('\n')[0]}`;
}

test('lib/index.d.ts compiles with tsc --noEmit --strict over test/types/sample.ts', { skip: tsc ? false : why, timeout: 120000 }, () => {
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json'), '--noEmit', '--strict'],
    { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});

test('package.json "types" points at lib/index.d.ts', () => {
  assert.equal(require('../package.json').types, 'lib/index.d.ts');
});
