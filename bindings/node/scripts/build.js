#!/usr/bin/env node
// Builds the N-API addon with CMake, offline: the repository's core and bundled plugins are
// compiled from this clone (../..), Node's C headers come from the installed Node
// (<prefix>/include/node) or, failing that, the node-api-headers package, and the C++ wrapper
// from node-addon-api. Nothing is downloaded.
//
// Output (never in the source tree): <repo>/build/node, or $RUNHOST_NODE_BUILD_DIR.
//   addon/runhost.node            the addon; the core is linked into it
//   lib/runhost/plugins/          the bundled plugins (<addon dir>/../lib/runhost/plugins)
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const pkgDir = path.resolve(__dirname, '..');
const repo = path.resolve(pkgDir, '..', '..');
const buildDir = path.resolve(process.env.RUNHOST_NODE_BUILD_DIR || path.join(repo, 'build', 'node'));

function fail(message) {
  console.error(`runhost: ${message}`);
  process.exit(1);
}

function nodeHeaders() {
  const candidates = [];
  if (process.env.RUNHOST_NODE_HEADERS) candidates.push(process.env.RUNHOST_NODE_HEADERS);
  candidates.push(path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'));
  candidates.push('/usr/include/node', '/usr/local/include/node');
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'node_api.h'))) return dir;
  }
  try {
    const dir = require('node-api-headers').include_dir;
    if (fs.existsSync(path.join(dir, 'node_api.h'))) return dir;
  } catch (_) { /* not installed */ }
  fail(`Node-API headers (node_api.h) not found in ${candidates.join(', ')} nor in the node-api-headers package`);
}

function addonApi() {
  try {
    return path.resolve(require('node-addon-api').include_dir.replace(/^"|"$/g, ''));  // it is relative to the cwd
  } catch (e) {
    fail(`node-addon-api is not installed (run npm install in ${pkgDir}): ${e.message}`);
  }
}

if (!fs.existsSync(path.join(repo, 'core', 'include', 'runhost', 'host.hpp'))) {
  fail(`runhost's sources are not at ${repo}: install the package from a clone of the repository (npm install ./bindings/node)`);
}

function run(args) {
  console.log(`runhost: cmake ${args.join(' ')}`);
  const r = spawnSync('cmake', args, { stdio: 'inherit' });
  if (r.error) fail(`cmake: ${r.error.message}`);
  if (r.status !== 0) fail(`cmake exited with ${r.status}`);
}

const jobs = process.env.RUNHOST_NODE_JOBS || String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 2)));
run(['-S', pkgDir, '-B', buildDir,
  `-DCMAKE_BUILD_TYPE=${process.env.RUNHOST_NODE_BUILD_TYPE || 'Release'}`,
  `-DNODE_API_HEADERS_DIR=${nodeHeaders()}`,
  `-DNODE_ADDON_API_DIR=${addonApi()}`]);
run(['--build', buildDir, '--target', 'runhost_node_all', '-j', jobs]);
