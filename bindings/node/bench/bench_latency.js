#!/usr/bin/env node
'use strict';
/*
First-event latency: how long after an event is stamped by the host it arrives in a
`for await (const ev of run.events())` loop that was waiting for it.

    node bindings/node/bench/bench_latency.js [--reps 5] [--cli PATH] [--no-durable]

The workload is the C++ `runhost_bench_runs follow` one (bench/runs_bench.cpp), so the two compare
side by side: a custom-runtime run printing one line every 20 ms (40 lines), each a
`command.output` event that the follower, caught up, is waiting for. Latency = arrival in the
loop (wall clock, performance.timeOrigin + performance.now()) - the event's `time` (the host's
stamp, made before the event is stored, so the figure includes the group commit and its fsync:
an upper bound of "durable -> in JS").

  in-process     the run is this Host's
  cross-process  the run belongs to a `runhost run` process on the same store (--cli, default
                 $RUNHOST_CLI or build/default/bin/runhost); this Host follows it through the
                 store, woken by that process's commits. Without the CLI this scenario is
                 reported as skipped, with the reason.
  first event    also: each in-process run's run.started, from its stamp to the loop that was
                 started right after dispatch() resolved

Prints medians, p90 and max over every event of every repetition.
*/
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const REPO = path.resolve(__dirname, '..', '..', '..');
const { Host } = require(path.join(REPO, 'bindings', 'node'));

const TICKER = ['sh', '-c', 'for i in $(seq 40); do sleep 0.02; echo tick $i; done'];

/** The event's `time` (2026-12-03T21:07:47.232920Z) in milliseconds since the epoch, to the microsecond. */
function stampedMs(ev) {
  const m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(ev.time);
  if (!m) throw new Error(`unexpected time ${ev.time}`);
  return Date.parse(`${m[1]}Z`) + Number(`0${m[2] ?? ''}`) * 1000;
}

const nowMs = () => performance.timeOrigin + performance.now();

function dispatch(command, key) {
  return {
    tenantId: 'bench', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'bench',
    runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: key, command,
  };
}

/** Latencies of the command.output events stamped at or after `since`, following `run`. */
async function follow(run, since, first = null) {
  const out = [];
  for await (const ev of run.events()) {
    const arrived = nowMs();
    if (first && ev.seq === 1) first.push(arrived - stampedMs(ev));
    if (ev.type === 'command.output' && stampedMs(ev) >= since) out.push(arrived - stampedMs(ev));
  }
  return out;
}

function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
}

function report(what, ms) {
  if (ms.length === 0) return;
  console.log(`follow ${what.padEnd(14)} ${String(ms.length).padStart(4)} events: median ${percentile(ms, 0.5).toFixed(2)} ms, ` +
    `p90 ${percentile(ms, 0.9).toFixed(2)} ms, max ${Math.max(...ms).toFixed(2)} ms`);
}

function parseArgs(argv) {
  const o = { reps: 5, cli: process.env.RUNHOST_CLI || path.join(REPO, 'build', 'default', 'bin', 'runhost'), durable: true };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--reps') o.reps = Number(argv[++i]);
    else if (argv[i] === '--cli') o.cli = path.resolve(argv[++i]);
    else if (argv[i] === '--no-durable') o.durable = false;
    else if (argv[i] === '-h' || argv[i] === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0].split('/*')[1].trimStart());
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]} (see --help)`);
  }
  if (!Number.isInteger(o.reps) || o.reps < 1) throw new Error('--reps needs a positive integer');
  return o;
}

async function crossProcess(host, dir, cli, rep, localId) {
  const child = spawn(cli, ['run', '--store', path.join(dir, 'runhost.db'), '--workspace-root', path.join(dir, 'ws'),
    '--tenant', 'bench', '--json', '--', ...TICKER], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  let id = null;
  while (!id) {  // setup, not measured: wait for the other process's run to exist
    await new Promise((r) => setTimeout(r, 5));
    const runs = await host.runs({ limit: 1 });
    if (runs.length && runs[0].id !== localId) id = runs[0].id;
    if (child.exitCode !== null) throw new Error(`runhost run exited with ${child.exitCode} before its run existed: ${stderr}`);
  }
  const ms = await follow(await host.run(id), nowMs());
  const code = await exited;
  if (code !== 0) throw new Error(`runhost run (rep ${rep}) exited with ${code}: ${stderr}`);
  return ms;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const cliProblem = fs.existsSync(args.cli) ? null : `the CLI is not built at ${args.cli} (scripts/build default, or --cli PATH)`;
  console.log(`node ${process.versions.node}, ${os.cpus().length} cpus, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ` +
    `durable=${args.durable}, reps=${args.reps}`);
  const local = [];
  const remote = [];
  const first = [];
  for (let rep = 0; rep < args.reps; rep++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-latency-'));
    fs.mkdirSync(path.join(dir, 'ws'));
    const host = new Host({ store: path.join(dir, 'runhost.db'), workspaceRoot: path.join(dir, 'ws'), durable: args.durable, useEnvironment: false });
    try {
      const run = await host.dispatch(dispatch(TICKER, `local-${rep}`));
      local.push(...await follow(run, 0, first));
      if (!cliProblem) remote.push(...await crossProcess(host, dir, args.cli, rep, run.id));
    } finally {
      await host.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  report('first event', first);
  report('in-process', local);
  if (cliProblem) console.log(`follow cross-process  skipped: ${cliProblem}`);
  else report('cross-process', remote);
  console.log(`load after: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((e) => {
  console.error(`bench_latency.js: ${e.message}`);
  process.exitCode = 1;
});
