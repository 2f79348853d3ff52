// Compiled by test/types.test.js with `tsc --noEmit --strict`; never run.
import {
  Host, Run, RunhostEvent, RunhostError, HostClosedError, TimeoutError, PolicyDeniedError,
  RunInfo, ErrorCode, errorCodes, EventStream,
} from '../..';

async function main(): Promise<void> {
  const host = new Host({ store: '/tmp/x.db', useEnvironment: false, pluginConfig: { custom: { a: 1 } } });
  const ac = new AbortController();
  const run: Run = await host.dispatch({
    tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd',
    runtime: 'custom', prompt: '', command: ['true'],
  }, { signal: ac.signal });
  const info: RunInfo = run.info;
  const last: number = info.lastSeq;
  const stream: EventStream = run.events({ after: last });
  for await (const ev of stream) {
    const e: RunhostEvent = ev;
    switch (e.type) {
      case 'command.output': { const s: 'stdout' | 'stderr' = e.payload.stream; void s; break; }
      case 'run.failed': {
        const code: ErrorCode = e.payload.error.code;
        const action = e.payload.error.recovery?.action;
        void code; void action;
        break;
      }
      case 'approval.required': await run.resolveApproval(e.payload.approval_id, true); break;
      case 'preview.ready': { const port: number = e.payload.port; void port; break; }
      default: { const t: string = e.type; void t; }
    }
  }
  run.on('event', (ev) => { const seq: number = ev.seq; void seq; });
  run.on('end', () => {});
  run.on('error', (err) => { void err; });
  const stored: RunhostEvent[] = await host.events(run.id, { after: 0, limit: 10 });
  const runs: RunInfo[] = await host.runs({ tenantId: 't', limit: 5 });
  void stored; void runs;
  try {
    await host.cancel(run.id);
  } catch (e) {
    if (e instanceof TimeoutError) { const r: boolean = e.retryable; void r; }
    if (e instanceof PolicyDeniedError) { const c: 'policy_denied' = e.code; void c; }
    if (e instanceof RunhostError) { const rec = e.recovery; if (rec) { const f: string | undefined = rec.field; void f; } }
    if (e instanceof HostClosedError) { const c: 'host_closed' = e.code; void c; }
  }
  for (const { code, retryable } of errorCodes) { void code; void retryable; }
  const p: string = host.storePath;
  void p;
  await host.close();
}
void main;
