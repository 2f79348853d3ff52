'use strict';
// Installing the package as an application does, into fresh app directories, then a real run
// through it (require and import) with no runhost variable set:
//   - from the path of this clone (npm install <clone>/bindings/node): the source build, reusing
//     the build directory the suite already built (RUNHOST_NODE_BUILD_DIR, a build-time option
//     only), so nothing is compiled twice;
//   - from the tarball `npm pack` makes: with a PATH holding node, npm and sh but no compiler and
//     no cmake, an unreachable registry, --offline and an empty npm cache; the prebuilt addon
//     and its bundled libraries must resolve to nothing of the system but glibc, libstdc++ and
//     libgcc_s;
//   - the tarball's source fallback configures (CMake) from what the tarball carries.
// Run by bindings/node/run-tests after the suite (test/*.test.js); prints the install times.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');

const PKG = path.resolve(__dirname, '..', '..');
const TIMEOUT = 15 * 60 * 1000;  // a cold source build on a loaded 2-core machine

function tmp(t, name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `runhost-${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment of an application: none of runhost's variables, none of npm's. */
function appEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(RUNHOST_|npm_|NODE_OPTIONS$|NODE_PATH$)/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd, args, { cwd, env, timeout = TIMEOUT }) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (e) => { out += String(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, seconds: (performance.now() - started) / 1000 });
    });
  });
}

const NPM_QUIET = ['--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=error'];

async function freshApp(t, env) {
  const app = tmp(t, 'app');
  const r = await run('npm', ['init', '-y'], { cwd: app, env });
  assert.equal(r.code, 0, r.out);
  return app;
}

// One run of the custom runtime through the installed package, both ways; prints the events.
const CJS_APP = `
const { Host, InvalidDispatchError } = require('runhost');
(async () => {
  const host = new Host({ store: __dirname + '/cjs.db', workspaceRoot: __dirname });
  await host.dispatch({}).catch((e) => console.log('refused:', e instanceof InvalidDispatchError, e.field));
  const run = await host.dispatch({ tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd',
    runtime: 'custom', prompt: 'p', approvalPolicy: 'auto', idempotencyKey: 'k', command: ['sh', '-c', 'echo hi from require'] });
  for await (const ev of run.events()) console.log(ev.seq, ev.type, ev.payload.text ?? '');
  console.log('plugins:', (await host.plugins()).loaded.map((p) => p.id).sort().join(','));
  await host.close();
})();
`;
const ESM_APP = `
import { Host, InvalidDispatchError, RunNotFoundError } from 'runhost';
const host = new Host({ store: new URL('./esm.db', import.meta.url), workspaceRoot: new URL('.', import.meta.url) });
await host.dispatch({}).catch((e) => console.log('refused:', e instanceof InvalidDispatchError, e.field));
await host.events('run_nope').catch((e) => console.log('unknown run:', e instanceof RunNotFoundError));
const run = await host.dispatch({ tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd',
  runtime: 'custom', prompt: 'p', approvalPolicy: 'auto', idempotencyKey: 'k', command: ['sh', '-c', 'echo hi from import'] });
for await (const ev of run.events()) console.log(ev.seq, ev.type, ev.payload.text ?? '');
await host.close();
`;

async function dispatchBothWays(app, env) {
  fs.writeFileSync(path.join(app, 'cjs.js'), CJS_APP);
  fs.writeFileSync(path.join(app, 'esm.mjs'), ESM_APP);
  const cjs = await run(process.execPath, ['cjs.js'], { cwd: app, env, timeout: 60000 });
  assert.equal(cjs.code, 0, cjs.out);
  assert.match(cjs.out, /^refused: true tenantId$/m);
  assert.match(cjs.out, /^1 run\.started $\n^2 command\.output hi from require$\n^3 run\.completed $/m);
  assert.match(cjs.out, /^plugins: .*\bcustom\b.*\bdeny-pattern\b/m, 'the bundled plugins are found beside the addon');
  const esm = await run(process.execPath, ['esm.mjs'], { cwd: app, env, timeout: 60000 });
  assert.equal(esm.code, 0, esm.out);
  assert.match(esm.out, /^refused: true tenantId$/m);
  assert.match(esm.out, /^unknown run: true$/m);
  assert.match(esm.out, /^2 command\.output hi from import$\n^3 run\.completed $/m);
}

test('npm install <clone>/bindings/node in a fresh app: builds (reusing the build directory), then runs with no variable set', { timeout: TIMEOUT }, async (t) => {
  // Only the build directory is passed on, so the suite's build is reused rather than redone.
  const buildEnv = appEnv(process.env.RUNHOST_NODE_BUILD_DIR ? { RUNHOST_NODE_BUILD_DIR: process.env.RUNHOST_NODE_BUILD_DIR } : {});
  const app = await freshApp(t, buildEnv);
  const r = await run('npm', ['install', ...NPM_QUIET, PKG], { cwd: app, env: buildEnv });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /runhost: built; the addon and its plugins are staged in /, r.out);
  t.diagnostic(`install from the path (warm build directory): ${r.seconds.toFixed(1)} s`);
  console.log(`install time: npm install <clone>/bindings/node (warm build directory): ${r.seconds.toFixed(1)} s`);
  await dispatchBothWays(app, appEnv());
});

/** A directory holding only node, npm and sh: an application machine without a toolchain. */
function bareBin(t) {
  const bin = tmp(t, 'bin');
  const which = (name) => process.env.PATH.split(':').map((d) => path.join(d, name)).find((f) => fs.existsSync(f));
  for (const name of ['node', 'npm', 'sh']) {
    const found = which(name);
    assert.ok(found, `${name} is not on PATH`);
    fs.symlinkSync(fs.realpathSync(found), path.join(bin, name));
  }
  return bin;
}

test('npm pack, then npm install <tarball> with no compiler, no cmake and no network: the prebuilt, in seconds', { timeout: TIMEOUT }, async (t) => {
  const out = tmp(t, 'pack');
  const packed = await run(process.execPath, [path.join(PKG, 'scripts', 'pack.js'), '--out', out], { cwd: PKG, env: process.env });
  assert.equal(packed.code, 0, packed.out);
  const tarball = path.join(out, fs.readdirSync(out).find((f) => f.endsWith('.tgz')));
  t.diagnostic(`npm pack (the addon already built): ${packed.seconds.toFixed(1)} s, ${(fs.statSync(tarball).size / 1048576).toFixed(1)} MiB`);
  assert.ok(!fs.existsSync(path.join(PKG, 'prebuilds')) && !fs.existsSync(path.join(PKG, 'source')), 'postpack removed what prepack staged');

  const bin = bareBin(t);
  const env = appEnv({ PATH: bin, npm_config_cache: path.join(out, 'empty-cache'), npm_config_registry: 'http://127.0.0.1:9/' });
  for (const tool of ['cc', 'c++', 'gcc', 'cmake', 'make']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { env, encoding: 'utf8' });
    assert.ok(found.status !== 0 && found.stdout === '', `${tool} must not be on the bare PATH: ${found.stdout}`);
  }
  const app = await freshApp(t, env);
  const r = await run('npm', ['install', ...NPM_QUIET, '--offline', tarball], { cwd: app, env, timeout: 120000 });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /runhost: using the prebuilt addon for linux-x64-glibc/, r.out);
  t.diagnostic(`install from the tarball (offline, no toolchain): ${r.seconds.toFixed(1)} s`);
  console.log(`install time: npm install <tarball> (offline, no compiler): ${r.seconds.toFixed(1)} s`);
  const installed = path.join(app, 'node_modules', 'runhost');
  assert.ok(!fs.lstatSync(installed).isSymbolicLink());
  assert.ok(!fs.existsSync(path.join(installed, 'native')), 'nothing was built');
  assert.ok(fs.existsSync(path.join(installed, 'node_modules', 'node-addon-api', 'napi.h')), 'node-addon-api is bundled, for the source fallback');

  // Only glibc, libstdc++ and libgcc_s come from the system; the rest is the prebuilt's own.
  const prebuilt = path.join(installed, 'prebuilds', 'linux-x64-glibc');
  const check = spawnSync(process.execPath, [path.join(PKG, 'scripts', 'prebuild.js'), '--check', prebuilt], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  const { system } = JSON.parse(check.stdout);
  for (const lib of system) assert.match(lib, /^(libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|ld-linux-x86-64)\.so/, lib);
  const runpath = spawnSync('readelf', ['-d', path.join(prebuilt, 'addon', 'runhost.node')], { encoding: 'utf8' }).stdout;
  assert.match(runpath, /\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\/\.\.\/lib\]/);
  assert.doesNotMatch(runpath, /NEEDED.*\[lib(curl|sqlite3|spdlog|fmt)\.so/, 'the bundled libraries are referenced under their own names');

  await dispatchBothWays(app, env);
});

test('the tarball\'s source fallback configures from what the tarball carries', { timeout: TIMEOUT }, async (t) => {
  const out = tmp(t, 'fallback');
  const packed = await run(process.execPath, [path.join(PKG, 'scripts', 'pack.js'), '--out', out], { cwd: PKG, env: process.env });
  assert.equal(packed.code, 0, packed.out);
  const tarball = path.join(out, fs.readdirSync(out).find((f) => f.endsWith('.tgz')));
  const x = spawnSync('tar', ['xzf', tarball, '-C', out]);
  assert.equal(x.status, 0, String(x.stderr));
  // Configure only: the compile is the same one the suite already did; what a tarball can miss is
  // a source file or a CMake script, and configuring finds that.
  const r = await run(process.execPath, [path.join(out, 'package', 'scripts', 'build.js'), '--configure-only'],
    { cwd: path.join(out, 'package'), env: appEnv({ RUNHOST_NODE_BUILD_DIR: path.join(out, 'build') }) });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, new RegExp(`building the addon from source \\(${path.join(out, 'package', 'source').replace(/[/.]/g, '\\$&')}\\)`));
  assert.doesNotMatch(r.out, /fetching/, 'node-addon-api comes from the tarball, not the registry');
  assert.match(r.out, /runhost: configured/);
});
