#!/usr/bin/env node
'use strict';
/*
Events per second delivered into JavaScript, as plain objects.

    node bindings/node/bench/bench_events.js [--reps 5] [--lines 100000] [--runs 100]
                                             [--dir DIR] [--no-durable] [--only a,b]
                                             [--serial-dispatch] [--threads]

The workload is the C++ `runhost_bench_runs deliver` one (bench/runs_bench.cpp) and the Python
binding's (bindings/python/bench/bench_events.py), so the three compare: the custom runtime in
jsonl mode, a process printing `{"type":"message",...}` lines as fast as the pipe takes them;
each becomes a `message` event, validated, stamped, stored (durable: an fsync per group commit)
and delivered. Rate = `message` events delivered into JS / seconds from the first to the last.

Scenarios (a fresh store and Host per repetition, in DIR, default: a temporary directory under
build/):
  one-run      one run of --lines events, followed live with `for await (const ev of run.events())`
  replay       the same run read again once it has ended: store -> objects, nothing else
  concurrent-N N (--runs) concurrent runs of --lines/N events each, all followed at once on this
               process's one JS thread with `for await` (one EventStream per run, no thread per
               run); the N dispatches are made at once and each run is followed as soon as its
               dispatch resolves (--serial-dispatch: await each dispatch before the next)
  emitter-N    the same runs, followed with run.on('event') / run.on('end')

Prints one line per repetition and the medians, and for every scenario the CPU time per
event: of the whole process (process.cpuUsage: JS thread + libuv workers reading the
store + the host's own threads), and of the JS thread alone (/proc/self/task/<pid>/schedstat),
the binding's own cost, comparable to the Python bench's consuming-thread figure (the process
figure of one-run and the concurrent ones is mostly the host's pipeline: adapter, schema check,
store). The concurrent ones also print how long the dispatches took to resolve (the first runs
are already being followed meanwhile, so that time is inside the measured span). With --threads
it also prints the CPU time of every thread (name:tid).
*/
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const REPO = path.resolve(__dirname, '..', '..', '..');
const { Host } = require(path.join(REPO, 'bindings', 'node'));

const LINE = '{"type":"message","payload":{"role":"assistant","text":"a line of streamed assistant text"}}';

function dispatchRequest(lines, key) {
  return {
    tenantId: 'bench', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'bench',
    runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: key,
    outputMode: 'jsonl', command: ['sh', '-c', `yes '${LINE}' | head -n ${lines}`],
  };
}

// ---- CPU time ---------------------------------------------------------------------------------

function processCpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

// The JS thread is the process's main thread: its tid is the pid. schedstat's first field is
// the time it has run, in ns (no tick granularity).
const JS_THREAD_STAT = `/proc/self/task/${process.pid}/schedstat`;
function jsThreadCpuUs() {
  try {
    return Number(fs.readFileSync(JS_THREAD_STAT, 'utf8').split(' ')[0]) / 1e3;
  } catch {
    return NaN;
  }
}

// Every thread's run time, by name and tid (the host's threads and libuv's workers are all
// named after the process, so the tid tells them apart).
function threadsCpuUs() {
  const out = new Map();
  let tasks = [];
  try { tasks = fs.readdirSync('/proc/self/task'); } catch { return out; }
  for (const tid of tasks) {
    try {
      const dir = `/proc/self/task/${tid}`;
      let name = fs.readFileSync(`${dir}/comm`, 'utf8').trim();
      name = Number(tid) === process.pid ? 'JS' : `${name}:${tid}`;
      const us = Number(fs.readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]) / 1e3;
      out.set(name, (out.get(name) ?? 0) + us);
    } catch { /* the thread ended meanwhile */ }
  }
  return out;
}

function threadsDelta(before, after) {
  const rows = [];
  for (const [name, us] of after) {
    const d = us - (before.get(name) ?? 0);
    if (d > 1000) rows.push([name, d]);
  }
  return rows.sort((a, b) => b[1] - a[1]);
}

class Cpu {
  start() {
    this.process = processCpuUs();
    this.js = jsThreadCpuUs();
    this.threads = this.verbose ? threadsCpuUs() : null;
  }

  stop(events) {
    const whole = (processCpuUs() - this.process) / events;
    const js = (jsThreadCpuUs() - this.js) / events;
    const threads = this.verbose ? threadsDelta(this.threads, threadsCpuUs()).map(([n, us]) => [n, us / events]) : null;
    return { process: whole, js, threads };
  }
}

// ---- scenarios -------------------------------------------------------------------------------

// First and last `message` delivery, across every run followed.
class Span {
  constructor() {
    this.first = Infinity;
    this.last = 0;
    this.count = 0;
  }

  add(first, last, count) {
    if (count === 0) return;
    this.first = Math.min(this.first, first);
    this.last = Math.max(this.last, last);
    this.count += count;
  }

  result() { return [this.count, (this.last - this.first) / 1e3]; }
}

function checkEnd(ev, runId) {
  if (!ev || ev.type !== 'run.completed') {
    throw new Error(`run ${runId} ended with ${ev ? JSON.stringify(ev).slice(0, 400) : 'no event'}`);
  }
}

async function countMessages(run) {
  let first = 0;
  let last = 0;
  let n = 0;
  let ev = null;
  for await (ev of run.events()) {
    if (ev.type === 'message') {
      last = performance.now();
      if (n === 0) first = last;
      n += 1;
    }
  }
  checkEnd(ev, run.id);
  return [first, last, n];
}

function countMessagesEmitter(run) {
  return new Promise((resolve, reject) => {
    let first = 0;
    let last = 0;
    let n = 0;
    run.on('event', (ev) => {
      if (ev.type === 'message') {
        last = performance.now();
        if (n === 0) first = last;
        n += 1;
      }
    });
    run.on('error', reject);
    run.on('end', (ev) => {
      try {
        checkEnd(ev, run.id);
        resolve([first, last, n]);
      } catch (e) {
        reject(e);
      }
    });
  });
}

async function oneRun(host, ctx, rep) {
  const run = await host.dispatch(dispatchRequest(ctx.lines, `one-${rep}`));
  ctx.cpu.start();
  const [first, last, n] = await countMessages(run);
  ctx.cpuResult = ctx.cpu.stop(n);
  ctx.lastRun = run;
  return [n, (last - first) / 1e3];
}

async function replay(host, ctx) {
  const run = ctx.lastRun;
  const started = performance.now();
  ctx.cpu.start();
  let n = 0;
  let ev = null;
  for await (ev of run.events()) n += 1;
  const elapsed = (performance.now() - started) / 1e3;
  ctx.cpuResult = ctx.cpu.stop(n);
  checkEnd(ev, run.id);
  return [n, elapsed];
}

function many(follow, prefix) {
  return async (host, ctx, rep) => {
    const perRun = Math.floor(ctx.lines / ctx.runs);
    const span = new Span();
    const followed = [];
    ctx.cpu.start();
    const started = performance.now();
    let dispatchedAt = started;
    for (let i = 0; i < ctx.runs; i++) {
      const d = host.dispatch(dispatchRequest(perRun, `${prefix}-${rep}-${i}`)).then((run) => {
        dispatchedAt = Math.max(dispatchedAt, performance.now());
        return run;
      });
      const p = (ctx.serialDispatch ? Promise.resolve(await d) : d).then(follow).then((r) => span.add(...r));
      p.catch(() => {});  // reported by the Promise.all below, not as an unhandled rejection meanwhile
      followed.push(p);
    }
    await Promise.all(followed);
    ctx.dispatchSeconds = (dispatchedAt - started) / 1e3;
    const [n, seconds] = span.result();
    ctx.cpuResult = ctx.cpu.stop(n);
    return [n, seconds];
  };
}

function scenarios(runs) {
  return [
    ['one-run', oneRun],
    ['replay', replay],
    [`concurrent-${runs}`, many(countMessages, 'concurrent')],
    [`emitter-${runs}`, many(countMessagesEmitter, 'emitter')],
  ];
}

// ---- main ------------------------------------------------------------------------------------

class UsageError extends Error {}

function parseArgs(argv) {
  const o = { reps: 5, lines: 100000, runs: 100, dir: null, durable: true, only: null, threads: false, serialDispatch: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = Number(value());
      if (!Number.isInteger(v) || v < 1) throw new UsageError(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--reps') o.reps = int();
    else if (a === '--lines') o.lines = int();
    else if (a === '--runs') o.runs = int();
    else if (a === '--dir') o.dir = value();
    else if (a === '--no-durable') o.durable = false;
    else if (a === '--only') o.only = new Set(value().split(','));
    else if (a === '--threads') o.threads = true;
    else if (a === '--serial-dispatch') o.serialDispatch = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0].split('/*')[1].trimStart());
      process.exit(0);
    } else throw new UsageError(`unknown argument ${a} (see --help)`);
  }
  if (o.lines < o.runs) throw new UsageError('--lines must be at least --runs');
  return o;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
const pad = (s, n) => String(s).padStart(n);

function cpuText(c) {
  return `  (CPU/event: ${c.process.toFixed(1)} us process, ${c.js.toFixed(1)} us JS thread)`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const base = args.dir ? path.resolve(args.dir) : path.join(REPO, 'build');
  fs.mkdirSync(base, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(base, 'bench-node-'));
  const workspace = path.join(tmp, 'workspace');
  fs.mkdirSync(workspace);
  // --only concurrent (or concurrent-100) picks concurrent-<runs>; replay reads one-run's run, so
  // asking for it runs one-run too.
  const wanted = (name) => !args.only || args.only.has(name) || args.only.has(name.replace(/-\d+$/, '')) ||
    (name === 'one-run' && args.only.has('replay'));
  console.log(`node ${process.versions.node}, ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ` +
    `durable=${args.durable}, lines=${args.lines}, runs=${args.runs}`);
  const results = new Map();
  const cpus = new Map();
  const ctx = { lines: args.lines, runs: args.runs, serialDispatch: args.serialDispatch, cpu: Object.assign(new Cpu(), { verbose: args.threads }) };
  try {
    for (let rep = 0; rep < args.reps; rep++) {
      const host = new Host({
        store: path.join(tmp, `store-${rep}.db`), workspaceRoot: workspace, durable: args.durable,
        useEnvironment: false, artifactPatterns: ['*.nothing'],
      });
      try {
        await host.ready;
        for (const [name, fn] of scenarios(args.runs)) {
          if (!wanted(name)) continue;
          ctx.cpuResult = null;
          ctx.dispatchSeconds = null;
          const [n, elapsed] = await fn(host, ctx, rep);
          const rate = n / elapsed;
          if (!results.has(name)) results.set(name, []);
          results.get(name).push(rate);
          let extra = '';
          const c = ctx.cpuResult;
          if (c) {
            if (!cpus.has(name)) cpus.set(name, []);
            cpus.get(name).push(c);
            extra = cpuText(c);
          }
          if (ctx.dispatchSeconds !== null) extra += `, the ${ctx.runs} dispatches took ${ctx.dispatchSeconds.toFixed(2)} s`;
          console.log(`  rep ${rep + 1} ${name.padEnd(14)} ${pad(n, 8)} events in ${elapsed.toFixed(2).padStart(6)} s = ${pad(fmt(rate), 10)} events/s${extra}`);
          if (c?.threads) {
            console.log(`      threads (us CPU/event): ${c.threads.map(([t, us]) => `${t} ${us.toFixed(2)}`).join(', ')}`);
          }
        }
      } finally {
        await host.close();
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  console.log('median events/s:');
  for (const [name, rates] of results) {
    let extra = '';
    const c = cpus.get(name);
    if (c) {
      extra = `   CPU/event: ${median(c.map((x) => x.process)).toFixed(1)} us process, ` +
        `${median(c.map((x) => x.js)).toFixed(1)} us JS thread`;
    }
    console.log(`  ${name.padEnd(14)} ${pad(fmt(median(rates)), 10)}   (min ${fmt(Math.min(...rates))}, max ${fmt(Math.max(...rates))})${extra}`);
  }
  console.log(`load after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((e) => {
  console.error(e instanceof UsageError ? `bench_events.js: ${e.message}` : e);
  process.exitCode = 1;
});
