// Compiled by test/types.test.js with tsc --strict, module nodenext: `import` from the package by
// its name resolves through package.json "exports" (the import condition: lib/index.d.mts), as in
// an ESM application. Every runtime export is imported by name.
import runhost, {
  Host, TenantView, Run, EventStream, RunhostError, HostClosedError, StreamConsumedError, EventHandlerError,
  InvalidDispatchError, RuntimeNotFoundError, RuntimeCrashedError, RuntimeErrorError, TimeoutError,
  CancelledError, PolicyDeniedError, BudgetExceededError, QuotaExceededError,
  ConnectorAuthorizationMissingError, DeviceUnavailableError, DeviceLostError, PluginErrorError,
  IdempotencyConflictError, InternalError, AuthFailedError, RateLimitedError, ModelUnavailableError,
  ModelApiErrorError, TurnLimitError, ContextLimitError, SessionNotFoundError, StoreUnavailableError,
  RunNotFoundError, errorFromEvent, errorCodes, defaultStorePath,
} from 'runhost';
import type { RunhostEvent, ApprovalAnswer, RunInfo, PendingApproval, MiosaOptions } from 'runhost';

const classes = [
  Host, TenantView, Run, EventStream, RunhostError, HostClosedError, StreamConsumedError, EventHandlerError,
  InvalidDispatchError, RuntimeNotFoundError, RuntimeCrashedError, RuntimeErrorError, TimeoutError,
  CancelledError, PolicyDeniedError, BudgetExceededError, QuotaExceededError,
  ConnectorAuthorizationMissingError, DeviceUnavailableError, DeviceLostError, PluginErrorError,
  IdempotencyConflictError, InternalError, AuthFailedError, RateLimitedError, ModelUnavailableError,
  ModelApiErrorError, TurnLimitError, ContextLimitError, SessionNotFoundError, StoreUnavailableError,
  RunNotFoundError,
];
void classes;
const sameHost: typeof Host = runhost.Host;
void sameHost;
const path: string = defaultStorePath;
const codes: ReadonlyArray<{ readonly code: string }> = errorCodes;
void path; void codes;

const miosa: MiosaOptions = { baseUrl: 'http://127.0.0.1:8080', apiKey: 'msk_example' };
const host = await Host.open({ store: '/tmp/esm.db', miosa });
const ac = new AbortController();
const run: Run = await host.dispatch({
  tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom',
  prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k', command: ['true'],
});
for await (const ev of run.events({ signal: ac.signal })) {
  const e: RunhostEvent = ev;
  if (e.type === 'approval.required') {
    const answer: ApprovalAnswer = { requestId: e.payload.approval_id, decision: 'deny', reason: 'no' };
    await run.resolveApproval(answer);
  }
  const err = errorFromEvent(e);
  if (err instanceof RunNotFoundError) { const c: 'run_not_found' = err.code; void c; }
}
const info: RunInfo = await run.wait({ check: true });
void info;
const waiting: PendingApproval[] = await host.forTenant('t').pendingApprovals();
for (const p of waiting) await host.resolveApproval({ runId: p.runId, approvalId: p.id, decision: 'allow', by: 'ada' });
try {
  await host.cancel('run_x');
} catch (e) {
  if (e instanceof InvalidDispatchError) { const f: string | null = e.field; void f; }
}
await host.close();
