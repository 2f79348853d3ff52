'use strict';
// The declarations must compile under `tsc --noEmit --strict`: lib/index.d.ts with a typed sample
// that uses the whole API (module commonjs, node10 resolution: "main"/"types"), and, with module
// nodenext, an ESM sample (.mts, "exports" import condition: lib/index.d.mts) and a CommonJS one
// (.cts, the require condition) that import the package by its name. Skipped (with the reason)
// only when typescript is not installed.
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

function compile(project) {
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', project), '--noEmit', '--strict', '--traceResolution'],
    { encoding: 'utf8' });
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l)).join('\n');
  assert.equal(r.status, 0, `tsc -p ${project} failed:\n${errors || r.stdout + r.stderr}`);
  return r.stdout;
}

test('lib/index.d.ts compiles with tsc --noEmit --strict over test/types/sample.ts', { skip: tsc ? false : why, timeout: 120000 }, () => {
  compile('tsconfig.json');
});

test('ESM (.mts) and CommonJS (.cts) samples resolve "runhost" through "exports" and compile with module nodenext', { skip: tsc ? false : why, timeout: 120000 }, () => {
  const trace = compile('tsconfig.nodenext.json');
  const resolved = [...trace.matchAll(/Module name 'runhost' was successfully resolved to '([^']+)'/g)].map((m) => path.relative(path.join(__dirname, '..'), m[1]));
  assert.deepEqual([...new Set(resolved)].sort(), ['lib/index.d.mts', 'lib/index.d.ts']);
});

test('package.json "types" and "exports" point at the declarations and modules that exist', () => {
  const pkg = require('../package.json');
  assert.equal(pkg.types, 'lib/index.d.ts');
  const root = pkg.exports['.'];
  assert.deepEqual(root.import, { types: './lib/index.d.mts', default: './lib/index.mjs' });
  assert.deepEqual(root.require, { types: './lib/index.d.ts', default: './lib/index.js' });
  for (const file of [root.import.types, root.import.default, root.require.types, root.require.default]) {
    assert.ok(require('node:fs').existsSync(path.join(__dirname, '..', file)), file);
  }
});
