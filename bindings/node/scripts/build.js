#!/usr/bin/env node
// Builds the N-API addon from source with CMake and stages it into the package (native/), where
// lib/native.js finds it without being told: the source build of npm install, and the first step
// of packing a prebuilt (scripts/prebuild.js).
//
// Sources: the repository this package sits in (bindings/node of a clone: ../..), else the copy a
// packed tarball carries (source/). Node's C headers come from the installed Node
// (<prefix>/include/node), the C++ wrapper from node-addon-api. When npm did not install those
// beside the package (npm install <dir> links a directory and installs none of its
// dependencies; a Node without headers), they are fetched from the npm registry into the build
// directory; nothing is downloaded from anywhere else.
//
//   node scripts/build.js [--configure-only]
//
// RUNHOST_NODE_BUILD_DIR    the CMake build directory (a build-time option only: the result is
//                           staged into the package). Default: <repo>/build/node from a clone,
//                           <package>/build from a tarball.
// RUNHOST_NODE_JOBS         parallel jobs (default: up to 2); RUNHOST_NODE_BUILD_TYPE (Release)
//
// Progress: npm hides an install script's output unless it fails, and a build takes minutes, so
// progress lines go to the terminal itself (/dev/tty) when stderr is not one; the whole CMake
// output goes to <build dir>/build.log, whose tail is printed when the build fails.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PACKAGE_DIR, nativeDir, addonIn } = require('../lib/platform');

class BuildError extends Error {}

const HOST_HPP = path.join('core', 'include', 'runhost', 'host.hpp');

/** The runhost sources: the clone around the package, else the tarball's copy. */
function sourceDir() {
  const candidates = [path.resolve(PACKAGE_DIR, '..', '..'), path.join(PACKAGE_DIR, 'source')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, HOST_HPP)));
  if (!found) {
    throw new BuildError(`runhost's sources are not at ${candidates.join(' nor ')}: install the package from a clone ` +
      '(npm install <clone>/bindings/node) or from a tarball made by npm pack in bindings/node');
  }
  return found;
}

function buildDir(source) {
  if (process.env.RUNHOST_NODE_BUILD_DIR) return path.resolve(process.env.RUNHOST_NODE_BUILD_DIR);
  return source === path.join(PACKAGE_DIR, 'source') ? path.join(PACKAGE_DIR, 'build') : path.join(source, 'build', 'node');
}

// ---- progress -------------------------------------------------------------------------------

/** Where progress lines go: stderr when it is a terminal, else the terminal behind npm, else stderr. */
function progressStream() {
  if (process.stderr.isTTY) return process.stderr;
  try {
    return fs.createWriteStream(null, { fd: fs.openSync('/dev/tty', 'w') });
  } catch (_) {
    return process.stderr;  // no terminal (CI): npm shows it with --foreground-scripts, or on failure
  }
}

function makeReporter() {
  const out = progressStream();
  // On a terminal, npm draws a spinner on the current line: clear it before each of ours.
  const lead = out.isTTY || out !== process.stderr ? '\r\x1b[K' : '';
  const started = Date.now();
  const elapsed = () => {
    const s = Math.round((Date.now() - started) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
  };
  return {
    say(message) { out.write(`${lead}runhost: ${message}\n`); },
    step(message) { out.write(`${lead}runhost: ${message} (${elapsed()})\n`); },
    elapsed,
    close() { if (out !== process.stderr) out.end(); },
  };
}

// ---- dependencies from npm ------------------------------------------------------------------

// The npm settings a nested npm keeps from the npm that runs this install script (where to
// fetch from, offline, proxies, TLS); the rest (prefix, global, save...) describe the outer
// install and would redirect the nested one.
const NPM_KEEP = /^npm_config_(registry|cache|offline|prefer_offline|prefer_online|proxy|https_proxy|noproxy|cafile|ca|strict_ssl|userconfig|globalconfig|fetch_[a-z_]+|@[^_]+:registry|\/\/.*)$/i;

function npmEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) && !NPM_KEEP.test(k)) continue;
    env[k] = v;
  }
  return env;
}

/** Installs `name@range` (the range package.json gives it) into <dir>/node_modules, from the npm registry. */
function fetchFromNpm(name, dir, report) {
  const range = require(path.join(PACKAGE_DIR, 'package.json')).dependencies?.[name] ?? 'latest';
  fs.mkdirSync(dir, { recursive: true });
  const manifest = path.join(dir, 'package.json');
  if (!fs.existsSync(manifest)) fs.writeFileSync(manifest, '{ "private": true, "description": "build-time dependencies of the runhost addon" }\n');
  report.step(`fetching ${name}@${range} from the npm registry into ${dir} (not installed beside the package)`);
  const r = spawnSync('npm', ['install', '--no-save', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund',
    '--loglevel=error', '--prefix', dir, `${name}@${range}`], { env: npmEnv(), encoding: 'utf8' });
  if (r.error) throw new BuildError(`cannot run npm to fetch ${name}: ${r.error.message}`);
  if (r.status !== 0) throw new BuildError(`npm could not fetch ${name}@${range} (exit ${r.status}):\n${r.stderr}`);
}

/** require.resolve of `name`: beside the package, else in <buildDir>/npm, fetched there if need be. */
function resolveDependency(name, build, report, subpath = '') {
  const spec = `${name}${subpath}`;
  try {
    return require.resolve(spec, { paths: [PACKAGE_DIR] });
  } catch (_) { /* not beside the package */ }
  const dir = path.join(build, 'npm');
  try {
    return require.resolve(spec, { paths: [dir] });
  } catch (_) { /* not fetched yet */ }
  fetchFromNpm(name, dir, report);
  return require.resolve(spec, { paths: [dir] });
}

function nodeHeaders(build, report) {
  const candidates = [];
  if (process.env.RUNHOST_NODE_HEADERS) candidates.push(process.env.RUNHOST_NODE_HEADERS);
  candidates.push(path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'));
  candidates.push('/usr/include/node', '/usr/local/include/node');
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'node_api.h'))) return dir;
  }
  report.say(`Node-API headers (node_api.h) are not in ${candidates.join(', ')}`);
  const dir = require(resolveDependency('node-api-headers', build, report)).include_dir;
  if (!fs.existsSync(path.join(dir, 'node_api.h'))) throw new BuildError(`node_api.h is not in ${dir}`);
  return dir;
}

function addonApi(build, report) {
  // include_dir is relative to the cwd and quoted (it is meant for gyp): use the package's folder.
  return path.dirname(resolveDependency('node-addon-api', build, report, '/package.json'));
}

// ---- cmake ----------------------------------------------------------------------------------

function cmake(args, log, report, onLine = () => {}) {
  fs.appendFileSync(log, `\n$ cmake ${args.join(' ')}\n`);
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn('cmake', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      reject(new BuildError(`cannot run cmake: ${e.message}`));
      return;
    }
    const logFd = fs.openSync(log, 'a');
    let pending = '';
    const take = (chunk) => {
      fs.writeSync(logFd, chunk);
      pending += chunk.toString('utf8');
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (e) => {
      fs.closeSync(logFd);
      reject(new BuildError(e.code === 'ENOENT' ? 'cmake is not installed (a source build needs CMake 3.24+ and a C/C++ compiler)' : `cmake: ${e.message}`));
    });
    child.on('close', (code) => {
      fs.closeSync(logFd);
      if (code === 0) resolve();
      else {
        const tail = fs.readFileSync(log, 'utf8').split('\n').slice(-40).join('\n');
        reject(new BuildError(`cmake ${args[0]} ${args[1]} failed (exit ${code}); the last lines of ${log}:\n${tail}`));
      }
    });
  });
}

/** Copies the built addon and plugins into native/, replacing what was there in one rename. */
function stage(build) {
  const target = nativeDir();
  const fresh = `${target}.staging-${process.pid}`;
  fs.rmSync(fresh, { recursive: true, force: true });
  fs.mkdirSync(path.join(fresh, 'addon'), { recursive: true });
  fs.copyFileSync(addonIn(build), addonIn(fresh));
  fs.cpSync(path.join(build, 'lib', 'runhost', 'plugins'), path.join(fresh, 'lib', 'runhost', 'plugins'), { recursive: true });
  fs.writeFileSync(path.join(fresh, 'build.json'), `${JSON.stringify({ buildDir: build, builtAt: new Date().toISOString() }, null, 2)}\n`);
  // A process that has the old addon loaded keeps its mapping: the old files are unlinked, not
  // overwritten.
  const old = `${target}.old-${process.pid}`;
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(fresh, target);
  fs.rmSync(old, { recursive: true, force: true });
  return target;
}

/**
 * Configures and builds the addon and the bundled plugins, then stages them into native/.
 * Resolves with { buildDir, staged }; rejects with a BuildError that says what was missing.
 */
async function build({ configureOnly = false } = {}) {
  const report = makeReporter();
  try {
    const source = sourceDir();
    const dir = buildDir(source);
    fs.mkdirSync(dir, { recursive: true });
    const log = path.join(dir, 'build.log');
    fs.writeFileSync(log, `runhost addon build, ${new Date().toISOString()}\n`);
    report.step(`building the addon from source (${source}) in ${dir}; a first build takes minutes, the full output is in ${log}`);
    const jobs = process.env.RUNHOST_NODE_JOBS || String(Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, 2)));
    await cmake(['-S', PACKAGE_DIR, '-B', dir,
      `-DCMAKE_BUILD_TYPE=${process.env.RUNHOST_NODE_BUILD_TYPE || 'Release'}`,
      `-DRUNHOST_SOURCE_DIR=${source}`,
      `-DNODE_API_HEADERS_DIR=${nodeHeaders(dir, report)}`,
      `-DNODE_ADDON_API_DIR=${addonApi(dir, report)}`], log, report);
    report.step('configured');
    if (configureOnly) return { buildDir: dir, staged: null };
    let shown = -1;
    let lastAt = Date.now();
    await cmake(['--build', dir, '--target', 'runhost_node_all', '-j', jobs], log, report, (line) => {
      // Makefile generators print "[ 42%] Building ...", Ninja "[12/80] ...": a line per 10%
      // (or per 30 s), so a slow build shows it is moving without flooding a log.
      const pct = /^\[\s*(\d+)%\]/.exec(line)?.[1] ?? (() => {
        const m = /^\[(\d+)\/(\d+)\]/.exec(line);
        return m ? String(Math.floor((100 * Number(m[1])) / Number(m[2]))) : null;
      })();
      if (pct === null || !/ (Building|Linking) /.test(line)) return;  // a no-op build compiles nothing
      const n = Number(pct);
      if (n >= shown + 10 || Date.now() - lastAt > 30000) {
        shown = n;
        lastAt = Date.now();
        report.step(`compiling: ${n}%`);
      }
    });
    const staged = stage(dir);
    report.step(`built; the addon and its plugins are staged in ${staged}`);
    return { buildDir: dir, staged };
  } finally {
    report.close();
  }
}

module.exports = { build, sourceDir, buildDir, BuildError, npmEnv };

if (require.main === module) {
  build({ configureOnly: process.argv.includes('--configure-only') }).catch((e) => {
    console.error(`runhost: ${e instanceof BuildError ? e.message : e.stack}`);
    process.exit(1);
  });
}
