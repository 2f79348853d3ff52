// Compiled by test/types.test.js with `tsc --noEmit --strict`; never run. It uses the whole API,
// so a declaration that drifts from lib/ (or a type too loose to catch a mistake) fails here.
import {
  Host, Run, RunhostEvent, RunhostError, HostClosedError, StreamConsumedError, EventHandlerError,
  TimeoutError, PolicyDeniedError, ConnectorAuthorizationMissingError, InvalidDispatchError,
  RunInfo, RunStatus, ErrorCode, errorCodes, errorFromEvent, defaultStorePath, EventStream,
  DevicePromptDispatch, Plugins, TerminalEvent, TenantView, TenantDispatch, RunNotFoundError,
  StoreUnavailableError, EventErrorCode, PendingApproval, ApprovalRequest, ApprovalAction,
  ApprovalActionKind, ApprovalScope, PolicyDecision, PolicyEffect, Grant, GrantInput, GrantState,
  BudgetExceededError, QuotaExceededError, Limits, UsageTotal, UsageFilter, MiosaOptions, HostOptions,
  DeviceUnavailableError,
} from '../..';

async function main(): Promise<void> {
  const host = new Host({ store: '/tmp/x.db', useEnvironment: false, pluginConfig: { custom: { a: 1 } }, approvalTimeoutSeconds: 60 });
  await host.ready;
  const other: Host = await Host.open({ store: new URL('file:///tmp/y.db'), pluginPaths: ['/opt/plugins'] });
  const closed: boolean = other.closed;
  void closed;
  const ac = new AbortController();
  const request: DevicePromptDispatch = {
    tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd',
    runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k', command: ['true'],
    outputMode: 'jsonl', timeoutSeconds: 60,
  };
  const run: Run = await host.dispatch(request, { signal: ac.signal });
  const info: RunInfo = run.info;
  const status: RunStatus = info.status;
  void status;
  const stream: EventStream = run.events({ after: info.lastSeq, signal: ac.signal });
  const cursor: number = stream.cursor;
  void cursor;
  for await (const ev of stream) {
    const e: RunhostEvent = ev;
    switch (e.type) {
      case 'command.output': { const s: 'stdout' | 'stderr' = e.payload.stream; void s; break; }
      case 'run.started': { const d: PolicyDecision | undefined = e.payload.policy; void d; break; }
      case 'tool.started': { const d: PolicyEffect | undefined = e.payload.policy?.effect; void d; break; }
      case 'policy.decision': {
        const phase: 'run.start' | 'action' = e.payload.phase;
        const who: string[] = e.payload.decisions.map((v) => `${v.policy}:${v.effect}:${v.rule ?? ''}`);
        const by: string | undefined = e.payload.approval_id;
        const kind: ApprovalActionKind | undefined = e.payload.action?.kind;
        void phase; void who; void by; void kind;
        break;
      }
      case 'run.failed': {
        const code: ErrorCode = e.payload.error.code;
        const action = e.payload.error.recovery?.action;
        const err = errorFromEvent(e);
        if (err) { const r: boolean = err.retryable; void r; }
        void code; void action;
        break;
      }
      case 'approval.required': {
        const summary: string | undefined = e.payload.action.summary;
        const deadline: string | undefined = e.payload.deadline;
        void summary; void deadline;
        await run.resolveApproval({ approvalId: e.payload.approval_id, decision: 'allow', reason: 'ok', by: 'ada' });
        break;
      }
      case 'approval.resolved': {
        const source: 'human' | 'policy' | 'deadline' | 'cancel' | undefined = e.payload.source;
        const by: string | undefined = e.payload.by;
        void source; void by;
        break;
      }
      case 'preview.ready': { const port: number = e.payload.port; void port; break; }
      default: { const t: string = e.type; void t; }
    }
  }
  run.on('event', (ev) => { const seq: number = ev.seq; void seq; });
  run.on('event', async (ev) => { await Promise.resolve(ev.type); });
  run.on('end', (last: TerminalEvent) => { void last.payload; });
  run.on('error', (err) => {
    if (err instanceof EventHandlerError) { const seq: number = err.event.seq; void seq; }
  });
  const final: RunInfo = await run.wait({ check: true, signal: ac.signal });
  void final;
  const again: Run | null = await host.run(run.id);
  if (again) { const fresh: RunInfo | null = await again.refresh(); void fresh; }
  const stored: RunhostEvent[] = await host.events(run.id, { after: 0, limit: 10 });
  const runs: RunInfo[] = await host.runs({ tenantId: 't', status: 'running', limit: 5 });
  const plugins: Plugins = await host.plugins();
  const kinds: Array<'runtime' | 'policy' | 'connector'> = plugins.loaded.map((p) => p.kind);
  void stored; void runs; void kinds;
  try {
    await host.cancel(run.id);
  } catch (e) {
    if (e instanceof TimeoutError) { const r: boolean = e.retryable; void r; }
    if (e instanceof PolicyDeniedError) { const c: 'policy_denied' = e.code; void c; }
    if (e instanceof InvalidDispatchError) { const f: string | null = e.field; void f; }
    if (e instanceof ConnectorAuthorizationMissingError) { const url = e.recovery?.connect_url; void url; }
    if (e instanceof RunhostError) { const a = e.action; const id: string | null = e.runId; void a; void id; }
    if (e instanceof HostClosedError) { const c: 'host_closed' = e.code; void c; }
    if (e instanceof StreamConsumedError) { const c: 'stream_consumed' = e.code; void c; }
  }
  for (const { code, retryable } of errorCodes) { void code; void retryable; }

  // A tenant's view: the same run calls, walled to the tenant; tenantId may be left out.
  const acme: TenantView = host.forTenant('acme');
  const tenantId: string = acme.tenantId;
  const viewClosed: boolean = acme.closed;
  void tenantId; void viewClosed;
  const mine: TenantDispatch = {
    workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom', prompt: '',
    approvalPolicy: 'auto', idempotencyKey: 'k2', command: ['true'],
  };
  const scoped: Run = await acme.dispatch(mine, { signal: ac.signal });
  const owner: Host | TenantView = scoped.host;
  void owner;
  const found: Run | null = await acme.run(scoped.id);
  const listed: RunInfo[] = await acme.runs({ status: 'running' });
  const page: RunhostEvent[] = await acme.events(scoped.id, { after: 1 });
  void found; void listed; void page;
  const waiting: PendingApproval[] = await acme.pendingApprovals();
  for (const w of waiting) {
    const request: ApprovalRequest = w.request;
    const action: ApprovalAction = request.action;
    const kind: ApprovalActionKind = action.kind;
    const fileOrMcp: boolean = kind === 'file' || kind === 'mcp';
    const asked: [string | undefined, string | undefined, string | undefined] = [request.request_id, request.tool_call_id, request.rule];
    const decided: PolicyEffect | undefined = request.policy_decision?.effect;
    void fileOrMcp; void asked; void decided;
    const due: number | null = w.deadlineUs;
    const ids: [string, string, string, number, number, boolean] = [w.id, w.runId, w.tenantId, w.seq, w.createdUs, w.answered];
    void kind; void due; void ids;
    await acme.resolveApproval({ runId: w.runId, approvalId: w.id, decision: 'allow', reason: 'fine', by: 'ada' });
    const standing: ApprovalScope = 'run';
    await run.resolveApproval({ approvalId: w.id, decision: 'allow', scope: standing });
  }
  const byCode: Grant = await acme.addGrant({ connector: 'oauth2', userId: 'u', code: 'c', scopes: ['repo'] });
  const input: GrantInput = { connector: 'oauth2', userId: 'u', tenantId: 'acme', secret: { access_token: 't', refresh_token: 'r' }, expiresInSeconds: 3600, metadata: { login: 'ada' } };
  const bySecret: Grant = await host.addGrant(input);
  await host.addGrant({ connector: 'oauth2', userId: 'u', tenantId: 'acme', secret: 'a-token' });
  const grants: Grant[] = await acme.grants({ userId: 'u', connector: 'oauth2', all: true, limit: 10 });
  for (const g of [byCode, bySecret, ...grants, ...(await host.grants())]) {
    const state: GrantState = g.state;
    const when: [number, number | null, number | null] = [g.createdUs, g.expiresUs, g.revokedUs];
    const what: [string, string, string, string, string[]] = [g.id, g.tenantId, g.userId, g.connector, g.scopes];
    const meta: Record<string, unknown> = g.metadata;
    void state; void when; void what; void meta;
  }
  await acme.revokeGrant(byCode.id);
  const limits: Limits = { budgets: { user_day_usd: 20 }, quotas: { concurrent_per_user: 3 },
    tenants: { acme: { quotas: { concurrent_per_user: null } } } };
  const limited = new Host({ limits });
  const filter: UsageFilter = { userId: 'u', sinceUs: Date.now() * 1000 };
  const spent: UsageTotal[] = [...(await limited.usage(filter)), ...(await limited.forTenant('acme').usage())];
  for (const u of spent) {
    const totals: [string, number, number, number, number, number] =
      [u.source, u.costUsd, u.inputTokens, u.outputTokens, u.cachedInputTokens, u.events];
    void totals;
  }
  try {
    await limited.dispatch(request);
  } catch (e) {
    if (e instanceof BudgetExceededError) { const l: string | undefined = e.recovery?.limit; void l; }
    if (e instanceof QuotaExceededError) { const after: number | undefined = e.recovery?.retry_after_ms; void after; }
  }
  await new Host({ limits: '{"budgets": {"run_usd": 5}}' }).close();
  // The sandbox device: a MIOSA account; a sandbox dispatch may leave deviceId out (a new sandbox).
  const miosa: MiosaOptions = { baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.MIOSA_KEY, tenant: 'acme', templateId: 'agents' };
  const sandboxed: HostOptions = { miosa, useEnvironment: false };
  const inSandbox = new Host(sandboxed);
  try {
    const { deviceId, ...noDevice } = request;
    void deviceId;
    const sandboxRun: Run = await inSandbox.dispatch({ ...noDevice, deviceType: 'sandbox' });
    const sandboxId: string = sandboxRun.info.deviceId;
    void sandboxId;
  } catch (e) {
    if (e instanceof DeviceUnavailableError) { const c: 'device_unavailable' = e.code; if (e.action === 'configure_device') { const f: string | undefined = e.recovery?.field; void f; } void c; }
  }
  await inSandbox.close();
  const all: PendingApproval[] = await host.pendingApprovals();
  void all;
  try {
    await acme.cancel(run.id);
    await acme.resolveApproval({ runId: run.id, requestId: 'apr_1', decision: 'deny', scope: 'once' });
  } catch (e) {
    if (e instanceof RunNotFoundError) { const c: 'run_not_found' = e.code; void c; }
    if (e instanceof StoreUnavailableError) { const c: 'store_unavailable' = e.code; void c; }
  }
  const failedWith: EventErrorCode = 'store_unavailable';
  void failedWith;
  const disposed: Promise<void> = other[Symbol.asyncDispose]();
  void disposed;
  const p: string = host.storePath;
  void p; void defaultStorePath;
  await host.close();
}
void main;

// Mistakes the types must catch (each line would not compile without its @ts-expect-error).
async function mistakes(host: Host): Promise<void> {
  // @ts-expect-error approvalPolicy must be one of the three
  await host.dispatch({ tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom', prompt: '', approvalPolicy: 'sometimes', idempotencyKey: 'k' });
  // @ts-expect-error an unknown field (the core refuses it too)
  await host.dispatch({ tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k', tenant_id: 't' });
  // @ts-expect-error deviceType is a union
  await host.dispatch({ tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'phone', deviceId: 'd', runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k' });
  // @ts-expect-error after is a number
  host.events('run_x', { after: '3' });
  const run = await host.run('run_x');
  // @ts-expect-error an unknown events() option (refused at run time too)
  run?.events({ sginal: new AbortController().signal });
  // @ts-expect-error decision is 'allow' or 'deny'
  await run?.resolveApproval({ approvalId: 'a', decision: true });
  // @ts-expect-error the scopes are 'once' and 'run'
  await run?.resolveApproval({ approvalId: 'a', decision: 'allow', scope: 'session' });
  // @ts-expect-error a budget is a number
  new Host({ limits: { budgets: { run_usd: '5' } } });
  // @ts-expect-error an unknown budget key (the host refuses it as it opens)
  new Host({ limits: { budgets: { run_usdd: 5 } } });
  // @ts-expect-error usage() times are microseconds, numbers
  await host.usage({ sinceUs: new Date() });
  // @ts-expect-error a grant takes a code or a secret, not both
  await host.addGrant({ connector: 'oauth2', userId: 'u', code: 'c', secret: 't' });
  // @ts-expect-error and at least one of them
  await host.addGrant({ connector: 'oauth2', userId: 'u' });
  // @ts-expect-error a grant names its user
  await host.addGrant({ connector: 'oauth2', secret: 't' });
  // @ts-expect-error the expiry is in seconds, a number
  await host.addGrant({ connector: 'oauth2', userId: 'u', secret: 't', expiresInSeconds: '1h' });
  // @ts-expect-error an unknown grants() option
  await host.grants({ includeRevoked: true });
  const [grant] = await host.grants();
  // @ts-expect-error a grant never carries its secret
  void grant.secret;
  // @ts-expect-error an answer names the approval
  await run?.resolveApproval({ decision: 'allow' });
  // @ts-expect-error the Host's form names the run
  await host.resolveApproval({ approvalId: 'a', decision: 'deny' });
  // @ts-expect-error who answers is a string
  await run?.resolveApproval({ approvalId: 'a', decision: 'allow', by: 7 });
  // @ts-expect-error approvalTimeoutSeconds is a number of seconds
  new Host({ approvalTimeoutSeconds: '1h' });
  const [pending] = await host.pendingApprovals();
  // @ts-expect-error a deadline may be missing (null)
  const due: number = pending.deadlineUs;
  void due;
  // @ts-expect-error pendingApprovals() is a Promise
  host.pendingApprovals().length;
  // @ts-expect-error there is no 'data' event
  (await host.run('run_x'))?.on('data', () => {});
  // @ts-expect-error unknown Host option
  new Host({ stor: 'x.db' });
  const view = host.forTenant('t');
  // @ts-expect-error a view cannot close the Host
  await view.close();
  // @ts-expect-error nor list its plugins
  await view.plugins();
  // @ts-expect-error the tenant id is a string
  host.forTenant(7);
  // @ts-expect-error a view's dispatch still checks every other field
  await view.dispatch({ workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k', tenant_id: 't' });
  // @ts-expect-error run_not_found is never a run's failure
  const never: EventErrorCode = 'run_not_found';
  void never;
  // @ts-expect-error a run's host may be a view, which has no close()
  await (await host.dispatch({ tenantId: 't', workspaceId: 'w', userId: 'u', deviceType: 'local', deviceId: 'd', runtime: 'custom', prompt: '', approvalPolicy: 'auto', idempotencyKey: 'k' })).host.close();
}
void mistakes;
