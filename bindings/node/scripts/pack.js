#!/usr/bin/env node
// `npm run pack [-- --out DIR]`: npm pack in this package (its prepack stages the prebuilt addon,
// its bundled libraries and the sources: scripts/prebuild.js), the tarball into DIR (default: the
// current directory); prints the tarball's path, size and how long it took.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { PACKAGE_DIR } = require('../lib/platform');

const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = path.resolve(outAt >= 0 ? args[outAt + 1] ?? '' : (process.env.INIT_CWD || process.cwd()));
fs.mkdirSync(out, { recursive: true });
const started = Date.now();
const r = spawnSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
if (r.status !== 0) {
  console.error(`runhost: npm pack failed (exit ${r.status ?? r.error?.message})`);
  process.exit(1);
}
const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
const file = path.join(out, info.filename);
console.log(`${file}  ${(fs.statSync(file).size / 1048576).toFixed(1)} MiB, ${info.entryCount} files, ` +
  `packed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
