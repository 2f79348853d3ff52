'use strict';
// Where the addon of this package lives, for the loader (lib/native.js) and the install scripts
// (scripts/): one place, so what the build stages and what the loader looks for cannot differ.
//
//   native/addon/runhost.node                  what a source build on this machine staged (scripts/build.js)
//   prebuilds/<tag>/addon/runhost.node         the prebuilt a packed tarball carries (scripts/prebuild.js)
//
// Each addon has its bundled plugins at <addon dir>/../lib/runhost/plugins, the core's own rule.
const path = require('node:path');

const PACKAGE_DIR = path.resolve(__dirname, '..');

/**
 * The platform a prebuilt is for: `linux-x64-glibc`. The C library is part of it because a
 * glibc build does not load on musl (Alpine) and the other way round.
 */
function platformTag() {
  let libc = '';
  if (process.platform === 'linux') {
    // process.report names the glibc the process runs on; musl has no such field.
    const header = process.report?.getReport?.().header ?? {};
    libc = header.glibcVersionRuntime ? '-glibc' : '-musl';
  }
  return `${process.platform}-${process.arch}${libc}`;
}

/** The glibc version this process runs on ("2.36"), or null when it is not glibc. */
function glibcVersion() {
  if (process.platform !== 'linux') return null;
  return process.report?.getReport?.().header?.glibcVersionRuntime ?? null;
}

const nativeDir = () => path.join(PACKAGE_DIR, 'native');
const prebuiltDir = (tag = platformTag()) => path.join(PACKAGE_DIR, 'prebuilds', tag);
const addonIn = (dir) => path.join(dir, 'addon', 'runhost.node');

module.exports = { PACKAGE_DIR, platformTag, glibcVersion, nativeDir, prebuiltDir, addonIn };
