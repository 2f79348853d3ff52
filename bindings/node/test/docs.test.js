'use strict';
// Every code sample of docs/node.md runs here, so the guide cannot drift from the package. The
// fence's info string says what a block is:
//
//   ```js             run: the body of an async function in a CommonJS script (so `await` and
//                     require('runhost') work), in a fresh directory (XDG_DATA_HOME inside it, so
//                     `new Host()` has a store of its own); it must exit 0
//   ```mjs            run as an ES module, likewise
//   ```ts             type-checked with tsc --strict (module nodenext), as a .mts file
//   ```js with=host   run after `const host = new Host(...)` and a `request` (a custom-runtime
//                     dispatch) are made, and the host closed after it; with=run also dispatches
//                     `run` (and its `runId`); with=asking makes `run` a run that waits for an
//                     approval (a policy plugin that asks first)
//   ```text output    the stdout of the block before it; `…` stands for any text within a line
//   ```<any> no-run   deliberately not run: shell commands, excerpts of files tested elsewhere
//   ... excerpt=FILE  (with no-run) an excerpt of FILE (from the repository root): each of its
//                     lines must be a line of FILE, so the excerpt follows the file
//
// Any other block fails the test: a sample is either run or says why it is not.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const { REPO, asksFirstPlugin } = require('./helpers');

const DOC = path.join(REPO, 'docs', 'node.md');
const PKG = path.resolve(__dirname, '..');

/** The fenced blocks of a Markdown text: { line, lang, attrs, code }. */
function blocks(text) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body = [];
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]);
    assert.ok(i < lines.length, `docs/node.md:${start + 1}: a code block that is never closed`);
    const attrs = {};
    for (const word of open[2].split(/\s+/).filter(Boolean)) {
      const [k, v] = word.split('=');
      attrs[k] = v ?? true;
    }
    out.push({ line: start + 1, lang: open[1], attrs, code: body.join('\n') });
  }
  return out;
}

const PRELUDES = {
  host: `const host = new (require('runhost').Host)({ workspaceRoot: process.cwd() });
const request = {
  tenantId: 'acme', workspaceId: 'main', userId: 'ada', deviceType: 'local', deviceId: 'laptop',
  runtime: 'custom', command: ['sh', '-c', 'echo building; echo done'],
  prompt: 'build it', approvalPolicy: 'auto', idempotencyKey: 'docs-' + process.pid,
};`,
  run: 'const run = await host.dispatch(request);\nconst runId = run.id;',
  asking: 'const run = await host.dispatch({ ...request, prompt: \'deploy [ask]\' });\nconst runId = run.id;',
};

function prelude(attrs) {
  switch (attrs.with) {
    case undefined: return '';
    case 'host': return PRELUDES.host;
    case 'run': return `${PRELUDES.host}\n${PRELUDES.run}`;
    case 'asking': return `${PRELUDES.host.replace('workspaceRoot: process.cwd()', `workspaceRoot: process.cwd(), pluginPaths: [${JSON.stringify(asksFirstPlugin())}]`)}\n${PRELUDES.asking}`;
    default: throw new Error(`unknown with=${attrs.with}`);
  }
}

function sandbox() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-docs-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(PKG, path.join(dir, 'node_modules', 'runhost'));  // `runhost` resolves as in an app
  return dir;
}

function runFile(dir, file) {
  const env = { ...process.env, XDG_DATA_HOME: path.join(dir, 'data') };
  delete env.RUNHOST_PLUGIN_PATH;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** `expected` with … matching any text within a line, as a whole-output RegExp. */
function outputPattern(expected) {
  const escaped = expected.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^\\n]*');
  return new RegExp(`^${escaped}\\n?$`);
}

const text = fs.readFileSync(DOC, 'utf8');
const all = blocks(text);

test('every block of docs/node.md is runnable, type-checked, an output, or tagged no-run', () => {
  const problems = [];
  all.forEach((b, i) => {
    if (b.attrs['no-run']) return;
    if (['js', 'mjs', 'ts'].includes(b.lang)) return;
    if (b.attrs.output) {
      const before = all[i - 1];
      if (!before || !['js', 'mjs'].includes(before.lang) || before.attrs['no-run']) problems.push(`docs/node.md:${b.line}: an output block must follow a block that runs`);
      return;
    }
    problems.push(`docs/node.md:${b.line}: \`\`\`${b.lang || '(no language)'} is neither run nor tagged: make it a js/mjs/ts sample, or tag it no-run (or output)`);
  });
  assert.deepEqual(problems, []);
  assert.ok(all.filter((b) => b.lang === 'js' && !b.attrs['no-run']).length >= 10, 'the guide runs its samples');
});

for (const [i, b] of all.entries()) {
  if (b.attrs['no-run'] || !['js', 'mjs'].includes(b.lang)) continue;
  const first = b.code.split('\n').find((l) => l.trim())?.trim().slice(0, 60);
  test(`docs/node.md:${b.line} runs (${first})`, { timeout: 90000 }, async (t) => {
    const dir = sandbox();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    let file;
    if (b.lang === 'mjs') {
      file = path.join(dir, 'sample.mjs');
      fs.writeFileSync(file, b.code);
    } else {
      file = path.join(dir, 'sample.js');
      const setup = prelude(b.attrs);
      const teardown = b.attrs.with ? '\nawait host.close();' : '';
      fs.writeFileSync(file, `'use strict';\n(async () => {\n${setup}\n${b.code}${teardown}\n})().catch((e) => { console.error(e); process.exit(1); });\n`);
    }
    const r = await runFile(dir, file);
    assert.equal(r.code, 0, `docs/node.md:${b.line} exited with ${r.code ?? r.signal}:\n${r.stderr}\n--- the sample as run:\n${fs.readFileSync(file, 'utf8')}`);
    const next = all[i + 1];
    if (next?.attrs.output) {
      assert.match(r.stdout, outputPattern(next.code), `docs/node.md:${next.line}: the output shown is not what the sample prints:\n${r.stdout}`);
    }
  });
}

test('the excerpts of docs/node.md are lines of the files they quote', () => {
  const excerpts = all.filter((b) => b.attrs.excerpt);
  assert.ok(excerpts.length > 0);
  for (const b of excerpts) {
    const file = fs.readFileSync(path.join(REPO, b.attrs.excerpt), 'utf8').split('\n').map((l) => l.trim());
    const missing = b.code.split('\n').map((l) => l.trim()).filter((l) => l && !file.includes(l));
    assert.deepEqual(missing, [], `docs/node.md:${b.line}: lines not in ${b.attrs.excerpt}`);
  }
});

const tsBlocks = all.filter((b) => b.lang === 'ts' && !b.attrs['no-run']);
let tsc = null;
try { tsc = require.resolve('typescript/bin/tsc'); } catch (_) { /* reported as the skip reason */ }

test('the TypeScript samples of docs/node.md type-check with tsc --strict (module nodenext)', {
  skip: tsBlocks.length === 0 ? 'docs/node.md has no ts sample' : tsc ? false : 'typescript is not installed (npm install --include=dev)',
  timeout: 120000,
}, (t) => {
  const dir = sandbox();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const files = tsBlocks.map((b) => {
    const file = path.join(dir, `sample-${b.line}.mts`);
    fs.writeFileSync(file, `${b.code}\nexport {};\n`);
    return file;
  });
  const r = spawnSync(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext',
    '--target', 'ES2022', '--types', 'node', '--typeRoots', path.join(PKG, 'node_modules', '@types'), ...files], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout.replace(/sample-(\d+)\.mts/g, 'docs/node.md:$1 (sample)'));
});
