'use strict';
// Loads the addon, found relative to this package (lib/platform.js), never through the build
// directory or an environment variable, so an installed package works wherever it was built:
//   1. native/        a source build on this machine (npm install built it: no prebuilt fitted,
//                     or the package was installed from a clone)
//   2. prebuilds/<platform>/   the prebuilt of a packed tarball (npm pack), for this platform
// RUNHOST_NODE_ADDON names another addon file instead (a developer's own build).
const fs = require('node:fs');
const { platformTag, nativeDir, prebuiltDir, addonIn } = require('./platform');

function candidates() {
  if (process.env.RUNHOST_NODE_ADDON) return [process.env.RUNHOST_NODE_ADDON];
  return [addonIn(nativeDir()), addonIn(prebuiltDir())];
}

function load() {
  const tried = [];
  for (const file of candidates()) {
    if (!fs.existsSync(file)) {
      tried.push(`${file} (missing)`);
      continue;
    }
    try {
      return require(file);
    } catch (e) {
      // A prebuilt that does not load here (an older glibc, say): the next candidate may.
      tried.push(`${file} (${e.message.split('\n')[0]})`);
    }
  }
  throw new Error(`runhost: no addon loads on ${platformTag()}: tried ${tried.join('; ')}. ` +
    'Reinstall the package (npm install builds it from source where no prebuilt fits; set RUNHOST_NODE_FROM_SOURCE=1 to force that)');
}

module.exports = load();
