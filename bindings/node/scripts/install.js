#!/usr/bin/env node
// npm install's step: use the prebuilt addon a packed tarball carries for this platform, when it
// loads here; otherwise build from source (scripts/build.js), which is the only way from a clone.
//
// RUNHOST_NODE_FROM_SOURCE=1  build from source even when a prebuilt fits.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { PACKAGE_DIR, platformTag, prebuiltDir, addonIn, nativeDir } = require('../lib/platform');
const { build, BuildError } = require('./build');

/** Why the prebuilt cannot be used here, or null when it can. */
function prebuiltProblem() {
  const tag = platformTag();
  const addon = addonIn(prebuiltDir(tag));
  if (!fs.existsSync(addon)) {
    const root = path.join(PACKAGE_DIR, 'prebuilds');
    const have = fs.existsSync(root) ? fs.readdirSync(root) : [];
    return have.length === 0 ? 'the package carries no prebuilt addon' : `no prebuilt for ${tag} (the package has ${have.join(', ')})`;
  }
  // Load it in a child: a prebuilt that needs a newer glibc or libstdc++ than this machine's
  // fails to load, and must not fail inside this process.
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8' });
  if (r.status !== 0) return `the prebuilt for ${tag} does not load here: ${(r.stderr || r.error?.message || '').trim().split('\n').find((l) => /Error/.test(l)) ?? r.stderr}`;
  return null;
}

async function main() {
  const forced = process.env.RUNHOST_NODE_FROM_SOURCE === '1';
  const problem = forced ? 'RUNHOST_NODE_FROM_SOURCE=1' : prebuiltProblem();
  if (problem === null) {
    // A source build staged earlier would win over the prebuilt in lib/native.js: a reinstall
    // of a package that now fits starts from the prebuilt again.
    fs.rmSync(nativeDir(), { recursive: true, force: true });
    console.log(`runhost: using the prebuilt addon for ${platformTag()}`);
    return;
  }
  console.log(`runhost: ${problem}: building from source`);
  await build();
}

main().catch((e) => {
  console.error(`runhost: ${e instanceof BuildError ? e.message : e.stack}`);
  process.exit(1);
});
