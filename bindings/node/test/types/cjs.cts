// Compiled by test/types.test.js with tsc --strict, module nodenext: a CommonJS TypeScript file
// importing the package by its name resolves through package.json "exports" (the require
// condition: lib/index.d.ts), both as `import ... from` (compiled to require) and `import = require`.
import { Host, InvalidDispatchError, RunNotFoundError, type RunhostEvent } from 'runhost';
import runhost = require('runhost');

async function main(): Promise<void> {
  const host: runhost.Host = new Host({ useEnvironment: false });
  const same: typeof runhost.Host = Host;
  void same;
  const run = await host.dispatch({
    tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom',
    prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k', command: ['true'],
  });
  for await (const ev of run.events()) {
    const e: RunhostEvent = ev;
    if (e.type === 'approval.required') await host.resolveApproval({ runId: run.id, approvalId: e.payload.approval_id, decision: 'allow' });
  }
  const waiting: runhost.PendingApproval[] = await host.pendingApprovals();
  for (const p of waiting) await host.resolveApproval({ runId: p.runId, approvalId: p.id, decision: 'deny', by: 'ada' });
  try {
    await host.events('run_x');
  } catch (e) {
    if (e instanceof RunNotFoundError || e instanceof InvalidDispatchError) { const c: string = e.code; void c; }
  }
  await host.close();
}
void main;
