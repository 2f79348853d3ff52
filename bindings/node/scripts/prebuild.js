#!/usr/bin/env node
// npm pack's prepack step (and postpack's, with --clean): puts into the package what its tarball
// carries beyond lib/ and the addon's sources, so `npm pack` in bindings/node makes a tarball that
// installs in seconds, with no compiler and no network:
//
//   prebuilds/<platform>/addon/runhost.node   the addon built here (scripts/build.js, reusing its
//                                             build directory), with a $ORIGIN/../lib runpath
//   prebuilds/<platform>/lib/runhost/plugins/ the bundled plugins and their manifests
//   prebuilds/<platform>/lib/*.so.*           every shared library the addon needs that is not
//                                             the C or C++ runtime (libcurl and its TLS, HTTP/2,
//                                             Kerberos... stack, SQLite, spdlog, fmt), copied from
//                                             this system under a name of their own
//   prebuilds/<platform>/prebuild.json        what it was built for and needs (glibc, GLIBCXX)
//   source/                                   the runhost sources the addon is built from, for the
//                                             source build where no prebuilt fits
//   node_modules/node-addon-api               (bundleDependencies) that build's C++ wrapper
//
// Bundling is done as auditwheel does for Python wheels: each copied library is renamed with a
// hash of its contents (libcurl-1a2b3c4d.so.4, and its SONAME with it), and every reference to it
// is rewritten, so it can never be mistaken for, or shadow, another copy of the same library that
// the application loads into the process; each one finds the others through its own $ORIGIN
// runpath. Then the result is checked: resolved without LD_LIBRARY_PATH, every library must come
// either from the prebuilt itself or from the allowed system set (glibc, libstdc++, libgcc_s).
//
//   node scripts/prebuild.js           stage (prepack)
//   node scripts/prebuild.js --clean   remove what was staged (postpack)
//   node scripts/prebuild.js --check DIR   check an unpacked prebuilt directory, print its report
'use strict';

const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { PACKAGE_DIR, platformTag, prebuiltDir, addonIn } = require('../lib/platform');
const { build, sourceDir, BuildError } = require('./build');

// What a Linux system is assumed to provide: glibc's libraries and the GCC runtime that Node
// itself links (manylinux's policy for the same reason). Everything else is bundled.
const SYSTEM = new Set([
  'libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libresolv.so.2',
  'libutil.so.1', 'libanl.so.1', 'ld-linux-x86-64.so.2', 'ld-linux-aarch64.so.1', 'linux-vdso.so.1',
  'libstdc++.so.6', 'libgcc_s.so.1',
]);

// The runhost sources the root CMake project needs to build the addon (bindings/node/CMakeLists.txt
// adds the root project and bindings/common; core embeds docs/events.schema.json).
const SOURCES = ['CMakeLists.txt', 'cmake', 'abi', 'core', 'cli', 'plugins', 'bindings/common', 'docs/events.schema.json'];

function tool(name, args) {
  try {
    return execFileSync(name, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (e.code === 'ENOENT') throw new BuildError(`${name} is not installed (packing a prebuilt needs it; scripts/setup installs it)`);
    throw new BuildError(`${name} ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** ldd's resolution of `file`: soname → absolute path, or null for "not found". */
function ldd(file) {
  const env = { ...process.env };
  delete env.LD_LIBRARY_PATH;
  delete env.LD_PRELOAD;
  const out = execFileSync('ldd', [file], { encoding: 'utf8', env });
  const map = new Map();
  for (const line of out.split('\n')) {
    let m = /^\s*(\S+) => not found/.exec(line);
    if (m) { map.set(m[1], null); continue; }
    m = /^\s*(\S+) => (\/\S+) \(0x/.exec(line);
    if (m) { map.set(m[1], m[2]); continue; }
    m = /^\s*(\/\S+) \(0x/.exec(line);  // the dynamic loader
    if (m) map.set(path.basename(m[1]), m[1]);
  }
  return map;
}

const needed = (file) => tool('patchelf', ['--print-needed', file]).split('\n').filter(Boolean);

/** libcurl.so.4 + its contents → libcurl-1a2b3c4d.so.4 */
function bundledName(soname, file) {
  const hash = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 8);
  const m = /^(.*?)(\.so(\..*)?)$/.exec(soname);
  return m ? `${m[1]}-${hash}${m[2]}` : `${soname}-${hash}`;
}

/** The highest GLIBC_x.y and GLIBCXX_x.y.z versions `files` ask for. */
function versionNeeds(files) {
  const best = { GLIBC: '0', GLIBCXX: '0' };
  const newer = (a, b) => {
    const x = a.split('.').map(Number);
    const y = b.split('.').map(Number);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
    }
    return false;
  };
  for (const f of files) {
    for (const m of tool('readelf', ['-V', '-W', f]).matchAll(/Name: (GLIBCXX|GLIBC)_([\d.]+)/g)) {
      if (newer(m[2], best[m[1]])) best[m[1]] = m[2];
    }
  }
  return { glibc: best.GLIBC, glibcxx: best.GLIBCXX === '0' ? null : best.GLIBCXX };
}

/**
 * Copies the libraries `addon` needs from the system into `libDir` under names of their own and
 * rewrites every reference. Returns [{ soname, bundledAs, from }].
 */
function bundle(addon, libDir) {
  const resolved = ldd(addon);  // the whole tree, as the loader resolves it today
  const missing = [...resolved].filter(([, p]) => p === null).map(([n]) => n);
  if (missing.length) throw new BuildError(`the built addon needs libraries this system lacks: ${missing.join(', ')}`);
  const wanted = [...resolved].filter(([name]) => !SYSTEM.has(name));
  fs.mkdirSync(libDir, { recursive: true });
  const renamed = new Map();  // soname → bundled file name
  const out = [];
  for (const [soname, from] of wanted) {
    const real = fs.realpathSync(from);
    const name = bundledName(soname, real);
    const target = path.join(libDir, name);
    fs.copyFileSync(real, target);
    fs.chmodSync(target, 0o755);
    renamed.set(soname, name);
    out.push({ soname, bundledAs: name, from: real });
  }
  const rewrite = (file, runpath) => {
    const args = [];
    for (const dep of needed(file)) {
      if (renamed.has(dep)) args.push('--replace-needed', dep, renamed.get(dep));
    }
    // One change per patchelf call: 0.14 (Debian 12's) corrupts the dynamic section when
    // --replace-needed and --set-rpath are combined.
    if (args.length) tool('patchelf', [...args, file]);
    // DT_RUNPATH (not RPATH) applies to the object's own dependencies only: each library says
    // where its own are, so nothing depends on who loaded it first.
    tool('patchelf', ['--set-rpath', runpath, file]);
  };
  for (const { bundledAs } of out) {
    const file = path.join(libDir, bundledAs);
    tool('patchelf', ['--set-soname', bundledAs, file]);
    rewrite(file, '$ORIGIN');
  }
  rewrite(addon, '$ORIGIN/../lib');
  return out;
}

/**
 * Every ELF file of a prebuilt directory resolved without LD_LIBRARY_PATH: each library must be
 * the prebuilt's own or an allowed system one. Returns { system: [...sonames], own: count };
 * throws listing what would come from elsewhere.
 */
function check(dir) {
  const elf = [addonIn(dir)];
  const libDir = path.join(dir, 'lib');
  for (const f of fs.readdirSync(libDir)) if (/\.so(\.|$)/.test(f)) elf.push(path.join(libDir, f));
  const pluginDir = path.join(libDir, 'runhost', 'plugins');
  for (const f of fs.readdirSync(pluginDir)) if (f.endsWith('.so')) elf.push(path.join(pluginDir, f));
  const system = new Set();
  const wrong = [];
  const inside = path.resolve(dir) + path.sep;
  for (const file of elf) {
    for (const [soname, where] of ldd(file)) {
      if (where === null) wrong.push(`${path.relative(dir, file)}: ${soname} not found`);
      else if (fs.realpathSync(where).startsWith(fs.realpathSync(dir) + path.sep) || where.startsWith(inside)) continue;
      else if (SYSTEM.has(soname)) system.add(soname);
      else wrong.push(`${path.relative(dir, file)}: ${soname} from the system (${where})`);
    }
  }
  if (wrong.length) throw new BuildError(`the prebuilt in ${dir} is not self-contained:\n  ${wrong.join('\n  ')}`);
  return { system: [...system].sort(), files: elf.length };
}

function copySources(from, to) {
  fs.rmSync(to, { recursive: true, force: true });
  for (const rel of SOURCES) {
    fs.cpSync(path.join(from, rel), path.join(to, rel), {
      recursive: true,
      // Editor and build droppings are not sources.
      filter: (src) => !/(^|\/)(\.git|build|node_modules|__pycache__)(\/|$)/.test(path.relative(from, src)),
    });
  }
}

function clean() {
  fs.rmSync(path.join(PACKAGE_DIR, 'prebuilds'), { recursive: true, force: true });
  fs.rmSync(path.join(PACKAGE_DIR, 'source'), { recursive: true, force: true });
}

async function stage() {
  if (process.platform !== 'linux') throw new BuildError(`prebuilt addons are made on Linux only, not ${process.platform}`);
  const source = sourceDir();
  if (source === path.join(PACKAGE_DIR, 'source')) {
    throw new BuildError('pack from bindings/node of a clone: this copy of the package has no repository around it');
  }
  const addonApi = path.join(PACKAGE_DIR, 'node_modules', 'node-addon-api', 'package.json');
  if (!fs.existsSync(addonApi)) {
    throw new BuildError(`node-addon-api is not in ${path.dirname(path.dirname(addonApi))}: run npm install in ${PACKAGE_DIR} first ` +
      '(the tarball bundles it, for the source build where no prebuilt fits)');
  }
  const started = Date.now();
  const { buildDir } = await build();
  clean();
  const tag = platformTag();
  const dir = prebuiltDir(tag);
  fs.mkdirSync(path.join(dir, 'addon'), { recursive: true });
  fs.copyFileSync(addonIn(buildDir), addonIn(dir));
  fs.cpSync(path.join(buildDir, 'lib', 'runhost', 'plugins'), path.join(dir, 'lib', 'runhost', 'plugins'), { recursive: true });
  const libraries = bundle(addonIn(dir), path.join(dir, 'lib'));
  const { system, files } = check(dir);
  const elf = [addonIn(dir), ...libraries.map((l) => path.join(dir, 'lib', l.bundledAs))];
  const needs = versionNeeds(elf);
  const manifest = {
    platform: tag,
    napiVersion: 8,
    needs: { ...needs, system },
    libraries: libraries.map(({ soname, bundledAs, from }) => ({ soname, bundledAs, from })),
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, 'prebuild.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copySources(source, path.join(PACKAGE_DIR, 'source'));
  const size = libraries.reduce((n, l) => n + fs.statSync(path.join(dir, 'lib', l.bundledAs)).size, 0);
  console.error(`runhost: prebuilt for ${tag}: the addon, ${fs.readdirSync(path.join(dir, 'lib', 'runhost', 'plugins')).filter((f) => f.endsWith('.so')).length} plugins, ` +
    `${libraries.length} bundled libraries (${(size / 1048576).toFixed(1)} MiB); ${files} ELF files resolve only to themselves and ${system.join(', ')}; ` +
    `needs glibc >= ${needs.glibc}${needs.glibcxx ? `, GLIBCXX >= ${needs.glibcxx}` : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

module.exports = { check, SYSTEM };

if (require.main === module) {
  const args = process.argv.slice(2);
  const run = args[0] === '--clean' ? async () => clean()
    : args[0] === '--check' ? async () => console.log(JSON.stringify(check(path.resolve(args[1]))))
      : stage;
  run().catch((e) => {
    console.error(`runhost: ${e instanceof BuildError ? e.message : e.stack}`);
    if (args.length === 0) clean();  // never leave half a prebuilt for lib/native.js to find
    process.exit(1);
  });
}
