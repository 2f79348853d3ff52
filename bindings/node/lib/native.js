'use strict';
// Loads the addon: $RUNHOST_NODE_ADDON, else <repo>/build/node/addon/runhost.node (or
// $RUNHOST_NODE_BUILD_DIR/addon/runhost.node), where npm install (scripts/build.js) puts it.
const fs = require('node:fs');
const path = require('node:path');

function candidates() {
  const out = [];
  if (process.env.RUNHOST_NODE_ADDON) out.push(process.env.RUNHOST_NODE_ADDON);
  if (process.env.RUNHOST_NODE_BUILD_DIR) out.push(path.join(process.env.RUNHOST_NODE_BUILD_DIR, 'addon', 'runhost.node'));
  // lib/ → bindings/node → bindings → repo. realpath: npm install ./bindings/node links the package.
  const repo = path.resolve(fs.realpathSync(__dirname), '..', '..', '..');
  out.push(path.join(repo, 'build', 'node', 'addon', 'runhost.node'));
  return out;
}

function load() {
  const tried = candidates();
  for (const file of tried) {
    if (fs.existsSync(file)) return require(file);
  }
  throw new Error(`runhost: the addon is not built (looked in ${tried.join(', ')}); run npm install in bindings/node`);
}

module.exports = load();
