'use strict';
// Every export is there for both module systems and is the same object both ways: require('runhost')
// (lib/index.js) and `import { ... } from 'runhost'` (lib/index.mjs, whose names are listed by
// hand because Node cannot see the error classes made at load time), and every one is declared in
// lib/index.d.ts. The package imports itself by its name (package.json "exports"), as an
// application does.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { node } = require('./helpers');

test('import and require give the same objects, every export named', async () => {
  const cjs = require('runhost');
  const esm = await import('runhost');
  assert.equal(cjs, require('..'), 'require by name resolves to this package');
  const named = Object.keys(esm).filter((k) => k !== 'default').sort();
  assert.deepEqual(named, Object.keys(cjs).sort(), 'lib/index.mjs names exactly the CommonJS exports');
  for (const name of named) assert.equal(esm[name], cjs[name], name);
  assert.equal(esm.default, cjs);
  // Every exception class ends in Error (one naming scheme), and the error classes are all there.
  const classes = named.filter((k) => typeof cjs[k] === 'function' && cjs[k].prototype instanceof Error);
  for (const name of classes) assert.match(name, /Error$/);
  for (const { code } of cjs.errorCodes) {
    const cls = classes.find((c) => cjs[c].prototype instanceof cjs.RunhostError && new cjs[c]('x').code === code);
    assert.ok(cls, `no class for ${code}`);
  }
  assert.ok(classes.includes('RunNotFoundError'));
});

test('an ESM application imports every export by name; a CommonJS one requires them', async () => {
  const names = Object.keys(require('runhost'));
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'runhost-esm-'));
  try {
    // A separate process, as an application: static named imports fail at link time when one is missing.
    const file = path.join(dir, 'app.mjs');
    const pkg = JSON.stringify(path.resolve(__dirname, '..', 'lib', 'index.mjs'));
    fs.writeFileSync(file, `import { ${names.join(', ')} } from ${pkg};\n` +
      `console.log(JSON.stringify([${names.map((n) => `typeof ${n}`).join(', ')}]));\n`);
    const r = await node(`import(${JSON.stringify(file)})`);
    assert.equal(r.code, 0, r.stderr);
    const types = JSON.parse(r.stdout);
    assert.equal(types.length, names.length);
    assert.ok(types.every((t) => t !== 'undefined'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('lib/index.d.ts declares every runtime export', () => {
  const dts = fs.readFileSync(path.join(__dirname, '..', 'lib', 'index.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export (?:declare )?(?:class|function|const) (\w+)/gm)].map((m) => m[1]));
  const missing = Object.keys(require('runhost')).filter((k) => !declared.has(k));
  assert.deepEqual(missing, []);
});
