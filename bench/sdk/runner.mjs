// One measurement in one process, for bench/sdk/run (which starts a fresh process per
// measurement and reads its CPU time and peak RSS from wait4): a vendor SDK or runhost's Node
// binding, driving the stand-in CLI, every message/event materialised and counted.
//
//   node bench/sdk/runner.mjs --side sdk|runhost --runtime claude|codex --transcript FILE
//        --standin EXE --scratch DIR --node-modules DIR [--runs N] [--pause-ms MS] [--store FILE]
//        [--runhost-node DIR]
//
// Prints one JSON line: wall seconds (first dispatch/query call -> last event of the last run),
// each run's first-event latency and count, and the process's own CPU time in that window.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROMPT = 'Run the benchmark transcript.';

function parseArgs(argv) {
  const o = { runs: 1, pauseMs: '0' };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
    o[key] = argv[i + 1];
  }
  o.runs = Number(o.runs);
  for (const k of ['side', 'runtime', 'transcript', 'standin', 'scratch']) {
    if (!o[k]) throw new Error(`--${k} is required`);
  }
  return o;
}

// An ES module package from the scratch install (bench/sdk/install), by its package.json
// "exports" (the SDKs are ESM only, so require.resolve cannot be used for both).
async function importPackage(nodeModules, name) {
  const dir = path.join(nodeModules, name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  let entry = pkg.exports?.['.'] ?? pkg.exports ?? pkg.main;
  if (typeof entry === 'object') entry = entry.import ?? entry.default;
  return import(pathToFileURL(path.join(dir, entry)).href);
}

// What the stand-in reads (its environment: the SDKs own its argv).
const standinEnv = (args) => ({ BENCH_TRANSCRIPT: args.transcript, BENCH_FIRST_LINE_PAUSE_MS: String(args.pauseMs) });

// Each thread's CPU time (schedstat's run time, ns), as "name:tid" (the host's threads carry the
// process's name); the JS thread is "JS".
function threadSeconds() {
  const out = {};
  let tasks = [];
  try { tasks = fs.readdirSync('/proc/self/task'); } catch { return out; }
  for (const tid of tasks) {
    try {
      const dir = `/proc/self/task/${tid}`;
      const name = Number(tid) === process.pid ? 'JS' : `${fs.readFileSync(`${dir}/comm`, 'utf8').trim()}:${tid}`;
      out[name] = (out[name] ?? 0) + Number(fs.readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function threadsDelta(before, after) {
  const out = {};
  for (const [name, s] of Object.entries(after)) {
    const d = s - (before[name] ?? 0);
    if (d >= 0.005) out[name] = Number(d.toFixed(3));
  }
  return out;
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

// ---- the vendor SDKs -------------------------------------------------------------------------

async function sdkClaude(args, expect, workdir) {
  const { query } = await importPackage(args.nodeModules, '@anthropic-ai/claude-agent-sdk');
  return async () => {
    const t0 = performance.now();
    let first = 0;
    let n = 0;
    let last = null;
    const q = query({
      prompt: PROMPT,
      options: {
        pathToClaudeCodeExecutable: args.standin,
        cwd: workdir,
        env: { ...process.env, ...standinEnv(args) },
      },
    });
    for await (const m of q) {
      if (n === 0) first = performance.now();
      n += 1;
      last = m;
    }
    const end = performance.now();
    const ok = n === expect.lines && last?.type === 'result' && last.subtype === 'success';
    return { first_ms: first ? first - t0 : null, start: t0, end, count: n, ok, why: ok ? '' : `${n} messages of ${expect.lines}, last ${last?.type}/${last?.subtype}` };
  };
}

async function sdkCodex(args, expect, workdir) {
  const { Codex } = await importPackage(args.nodeModules, '@openai/codex-sdk');
  const codex = new Codex({
    codexPathOverride: args.standin,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...standinEnv(args) },
  });
  return async () => {
    const t0 = performance.now();
    let first = 0;
    let n = 0;
    let last = null;
    const thread = codex.startThread({ workingDirectory: workdir, skipGitRepoCheck: true });
    const { events } = await thread.runStreamed(PROMPT);
    for await (const ev of events) {
      if (n === 0) first = performance.now();
      n += 1;
      last = ev;
    }
    const end = performance.now();
    const ok = n === expect.lines && last?.type === 'turn.completed';
    return { first_ms: first ? first - t0 : null, start: t0, end, count: n, ok, why: ok ? '' : `${n} events of ${expect.lines}, last ${last?.type}` };
  };
}

// ---- runhost ---------------------------------------------------------------------------------

function loadRunhost(args) {
  const pkg = path.resolve(args.runhostNode ?? path.join(REPO, 'bindings', 'node'));
  try {
    return createRequire(import.meta.url)(pkg);
  } catch (e) {
    throw new Error(`cannot load runhost's Node binding from ${pkg} (${e.message.split('\n')[0]}); ` +
      'build it with: (cd bindings/node && npm install)');
  }
}

// An envelope's time ("2026-12-05T05:06:44.833922Z") in ms since the epoch, to the microsecond.
const stampMs = (time) => Date.parse(`${time.slice(0, 23)}Z`) + Number(time.slice(23, 26)) / 1000;

async function runhostSide(args, expect, workdir) {
  const { Host } = loadRunhost(args);
  const adapter = args.runtime === 'claude' ? 'claude-code' : 'codex';
  const host = new Host({
    store: args.store,                       // a fresh SQLite file per measurement; durable (the default)
    workspaceRoot: args.scratch,
    useEnvironment: false,
    maxOutputBytes: 1 << 30,                 // the default 64 MiB is near the 100k-line claude transcript
    pluginConfig: { [adapter]: { executable: args.standin, env: standinEnv(args) } },
  });
  await host.ready;
  let k = 0;
  const follow = async () => {
    const t0 = performance.now();
    const run = await host.dispatch({
      tenantId: 'bench', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'bench',
      runtime: adapter, prompt: PROMPT, cwd: workdir, approvalPolicy: 'auto', idempotencyKey: `bench-${k++}`,
    });
    const dispatched = performance.now();
    let first = 0;
    let n = 0;
    let last = null;
    let startedStamp = 0;
    let firstStamp = 0;
    const c = { started: 0, completed: 0, assistant: 0 };
    for await (const ev of run.events()) {
      if (ev.type === 'run.started') startedStamp = stampMs(ev.time);
      if (first === 0 && ev.source === 'runtime') {
        first = performance.now();
        firstStamp = stampMs(ev.time);
      }
      n += 1;
      last = ev;
      if (ev.type === 'tool.started') c.started += 1;
      else if (ev.type === 'tool.completed') c.completed += 1;
      else if (ev.type === 'message' && ev.payload.role === 'assistant') c.assistant += 1;
    }
    const end = performance.now();
    const ok = last?.type === 'run.completed' && !last.payload.output_truncated &&
      c.started === expect.tool_started && c.completed === expect.tool_completed &&
      c.assistant === expect.assistant_messages;
    const why = ok ? '' : `last ${last?.type} ${JSON.stringify(last?.payload ?? {}).slice(0, 300)}; ` +
      `tool.started ${c.started}/${expect.tool_started}, tool.completed ${c.completed}/${expect.tool_completed}, ` +
      `assistant messages ${c.assistant}/${expect.assistant_messages}`;
    // Where the first event's time went: dispatch() returned, run.started and the first runtime
    // event stamped by the host (their envelope's time), the first event in JS; ms after dispatch.
    const epoch = performance.timeOrigin + t0;
    const path = [dispatched - t0, startedStamp - epoch, firstStamp - epoch, first - t0];
    return { first_ms: first ? first - t0 : null, dispatch_ms: dispatched - t0, path, start: t0, end, count: n, ok, why };
  };
  follow.close = () => host.close();
  return follow;
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const expect = JSON.parse(fs.readFileSync(`${args.transcript}.json`, 'utf8'));
  const workdir = path.join(args.scratch, 'work');
  fs.mkdirSync(workdir, { recursive: true });
  const make = { sdk: { claude: sdkClaude, codex: sdkCodex }, runhost: { claude: runhostSide, codex: runhostSide } }[args.side]?.[args.runtime];
  if (!make) throw new Error(`unknown --side ${args.side} / --runtime ${args.runtime}`);
  const one = await make(args, expect, workdir);

  const threads0 = threadSeconds();
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: args.runs }, () => one()));
  const t1 = Math.max(...results.map((r) => r.end));
  const cpu = cpuSeconds() - cpu0;
  const threads = threadsDelta(threads0, threadSeconds());
  if (one.close) await one.close();

  const bad = results.filter((r) => !r.ok);
  const out = {
    lang: 'node', side: args.side, runtime: args.runtime, runs: args.runs, lines: expect.lines,
    wall_s: (t1 - t0) / 1e3,
    first_ms: results.map((r) => r.first_ms),
    dispatch_ms: results[0].dispatch_ms === undefined ? undefined : results.map((r) => r.dispatch_ms),
    // runhost: per run, [dispatch() returned, run.started stamped, first runtime event stamped, in JS], ms
    first_path_ms: results[0].path === undefined ? undefined : results.map((r) => r.path.map((x) => Number(x.toFixed(1)))),
    counts: [...new Set(results.map((r) => r.count))],
    window_cpu_s: cpu,
    window_threads_s: threads,
    ok: bad.length === 0,
    error: bad.length ? `${bad.length} of ${args.runs} runs wrong: ${bad[0].why}` : undefined,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  if (bad.length) process.exitCode = 1;
}

main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ ok: false, error: String(e?.stack ?? e) })}\n`);
  process.exitCode = 1;
});
