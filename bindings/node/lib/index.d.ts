// Types for the runhost Node binding (lib/index.js). The event union follows
// docs/events.schema.json (runhost.event/1): one interface per event type, discriminated by `type`.
import { EventEmitter } from 'node:events';

// ---- errors -------------------------------------------------------------------------------
export type ErrorCode =
  | 'invalid_dispatch' | 'runtime_not_found' | 'runtime_crashed' | 'runtime_error' | 'timeout'
  | 'cancelled' | 'policy_denied' | 'budget_exceeded' | 'quota_exceeded'
  | 'connector_authorization_missing' | 'device_unavailable' | 'device_lost' | 'plugin_error'
  | 'idempotency_conflict' | 'internal' | 'auth_failed' | 'rate_limited' | 'model_unavailable'
  | 'model_api_error' | 'turn_limit' | 'context_limit' | 'session_not_found' | 'store_unavailable'
  | 'run_not_found';

/**
 * An error code as it can appear inside a run.failed event: every one but run_not_found, which
 * only a call naming a run answers (store_unavailable there: the host could not record the run's events).
 */
export type EventErrorCode = Exclude<ErrorCode, 'run_not_found'>;

export type RecoveryAction =
  | 'retry' | 'fix_dispatch' | 'install_runtime' | 'connect_account' | 'review_policy'
  | 'raise_budget' | 'request_quota' | 'resume_device' | 'contact_support'
  | 'configure_device' | 'fork_from_snapshot';

export interface Recovery {
  action: RecoveryAction;
  /** fix_dispatch, configure_device: the dispatch field to fix (camelCase). */
  field?: string;
  /** connect_account: which connector. */
  connector?: string;
  /** connect_account: where the user connects the account. */
  connect_url?: string;
  /** retry, request_quota: when trying again may work. */
  retry_after_ms?: number;
  hint?: string;
  /** raise_budget, request_quota: which usage source ran out ('runs' for a quota, 'all' when nothing was spent). */
  usage_source?: string;
  /** raise_budget, request_quota: the limit reached, e.g. 'user_day_usd', 'concurrent_per_user'. */
  limit?: string;
  /** The device the run resolved to (a sandbox id), kept for a retry. */
  device_id?: string;
  /** The device's own error code (MIOSA's: SANDBOX_STARTING, CREDIT_REQUIRED...). */
  device_code?: string;
}

export interface RunhostErrorOptions {
  code?: ErrorCode;
  retryable?: boolean;
  recovery?: Recovery | null;
  /** The run the error is about (set for errors of run.failed events). */
  runId?: string | null;
  cause?: unknown;
}

/** A typed failure of the host: `code` is one of the core's codes, each with its own subclass. */
export class RunhostError extends Error {
  constructor(message: string, opts?: RunhostErrorOptions);
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly recovery: Recovery | null;
  readonly runId: string | null;
  /** recovery.action, or null. */
  readonly action: RecoveryAction | null;
  /** invalid_dispatch: the dispatch field that was wrong (recovery.field), or null. */
  readonly field: string | null;
}

/** The Host was closed; the call, or a stream of it, cannot go on. Open a new Host on the store. */
export class HostClosedError extends Error {
  constructor(message?: string);
  readonly code: 'host_closed';
}

/** An EventStream that has ended, was closed, or is in use by another loop, iterated again. */
export class StreamConsumedError extends Error {
  constructor(message: string);
  readonly code: 'stream_consumed';
}

/** A run.on('event') listener threw (or its promise rejected); reported as the run's 'error'. */
export class EventHandlerError extends Error {
  constructor(cause: unknown, event: RunhostEvent);
  readonly code: 'event_handler_failed';
  readonly cause: unknown;
  /** The event the listener was given. */
  readonly event: RunhostEvent;
}

declare class CodedError<C extends ErrorCode> extends RunhostError {
  readonly code: C;
}
export class InvalidDispatchError extends CodedError<'invalid_dispatch'> {}
export class RuntimeNotFoundError extends CodedError<'runtime_not_found'> {}
export class RuntimeCrashedError extends CodedError<'runtime_crashed'> {}
export class RuntimeErrorError extends CodedError<'runtime_error'> {}
export class TimeoutError extends CodedError<'timeout'> {}
export class CancelledError extends CodedError<'cancelled'> {}
export class PolicyDeniedError extends CodedError<'policy_denied'> {}
export class BudgetExceededError extends CodedError<'budget_exceeded'> {}
export class QuotaExceededError extends CodedError<'quota_exceeded'> {}
export class ConnectorAuthorizationMissingError extends CodedError<'connector_authorization_missing'> {}
export class DeviceUnavailableError extends CodedError<'device_unavailable'> {}
export class DeviceLostError extends CodedError<'device_lost'> {}
export class PluginErrorError extends CodedError<'plugin_error'> {}
export class IdempotencyConflictError extends CodedError<'idempotency_conflict'> {}
export class InternalError extends CodedError<'internal'> {}
export class AuthFailedError extends CodedError<'auth_failed'> {}
export class RateLimitedError extends CodedError<'rate_limited'> {}
export class ModelUnavailableError extends CodedError<'model_unavailable'> {}
export class ModelApiErrorError extends CodedError<'model_api_error'> {}
export class TurnLimitError extends CodedError<'turn_limit'> {}
export class ContextLimitError extends CodedError<'context_limit'> {}
export class SessionNotFoundError extends CodedError<'session_not_found'> {}
export class StoreUnavailableError extends CodedError<'store_unavailable'> {}
/** No such run, or (in a TenantView) another tenant's: the two are indistinguishable. */
export class RunNotFoundError extends CodedError<'run_not_found'> {}

/** The core's error codes, with whether each is retryable by default. */
/** The core's error table: each code, whether it is retryable by default, and its recovery action. */
export const errorCodes: ReadonlyArray<{ readonly code: ErrorCode; readonly retryable: boolean; readonly recoveryAction: RecoveryAction }>;
/** $XDG_DATA_HOME/runhost/runhost.db, or ~/.local/share/runhost/runhost.db. */
export const defaultStorePath: string;
/** The error a run.failed event stands for (CancelledError for run.cancelled); null for any other event. */
export function errorFromEvent(event: RunhostEvent): RunhostError | null;

// ---- events -------------------------------------------------------------------------------
export type DeviceType = 'local' | 'sandbox' | 'computer';
export type EventSource = 'runtime' | 'device' | 'host' | 'policy';
export type OutputStream = 'stdout' | 'stderr';

interface EventBase<T extends string, P> {
  schema: 'runhost.event/1';
  /** evt_ + a ULID */
  id: string;
  /** run_ + a ULID */
  run_id: string;
  /** 1, 2, 3... per run, no gaps */
  seq: number;
  type: T;
  /** RFC 3339, UTC, microseconds */
  time: string;
  tenant_id: string;
  workspace_id: string;
  project_id?: string;
  user_id: string;
  runtime: string;
  device: { type: DeviceType; id: string };
  request_id?: string | null;
  source: EventSource;
  payload: P;
  /** the native line this event came from; kept only when asked for */
  raw?: string;
}

export interface EventError {
  code: EventErrorCode;
  message: string;
  request_id?: string | null;
  retryable: boolean;
  recovery?: Recovery;
}

/** One policy's answer about a request, in policy id order (a PolicyDecision's `decisions`). */
export interface PolicyVerdict {
  policy: string;
  effect: PolicyEffect;
  reason?: string;
  rule?: string;
}
/** One policy's answer, or the combined one: deny beats ask beats allow. */
export type PolicyEffect = 'allow' | 'ask' | 'deny';
/**
 * What every policy said about one request (docs/events.md, "Decisions"): run.started and
 * tool.started carry it as `policy`, approval.required as `policy_decision`.
 */
export interface PolicyDecision {
  effect: PolicyEffect;
  /** The deciding policy (none when every policy allowed). */
  policy?: string;
  /** The deciding policy's rule. */
  rule?: string;
  /** The deciding policy's reason, prefixed with its id. */
  reason?: string;
  decisions: PolicyVerdict[];
}
/** What an action is: a built-in tool, a shell command, a file edit, an MCP tool, a connector action... */
export type ApprovalActionKind = 'tool' | 'command' | 'file' | 'mcp' | 'connector' | 'publish' | 'spend' | 'run';

export interface RunStartedEvent extends EventBase<'run.started', {
  cwd: string; argv: string[]; pid?: number; resume_id?: string;
  /** What the policies said at run start (when any are loaded). */
  policy?: PolicyDecision;
}> {}
export interface MessageEvent extends EventBase<'message', {
  role: 'assistant' | 'user' | 'system'; text: string; delta?: boolean; truncated?: boolean;
}> {}
export interface ReasoningEvent extends EventBase<'reasoning', { text: string; delta?: boolean }> {}
export interface ToolStartedEvent extends EventBase<'tool.started', {
  tool_call_id: string; name: string; input?: unknown; kind?: 'tool' | 'command' | 'mcp' | 'connector' | 'file';
  /** What the policies said about this call, added by the host (when any are loaded). */
  policy?: PolicyDecision;
}> {}
export interface ToolCompletedEvent extends EventBase<'tool.completed', {
  tool_call_id: string; name?: string; status: 'success' | 'error'; output?: unknown; error?: string; duration_ms?: number;
}> {}
export interface CommandOutputEvent extends EventBase<'command.output', {
  stream: OutputStream; text: string; tool_call_id?: string; exit_code?: number; truncated?: boolean;
}> {}
export interface FileChangedEvent extends EventBase<'file.changed', {
  path: string; change: 'created' | 'modified' | 'deleted' | 'renamed'; from?: string; size_bytes?: number; source_runtime?: boolean;
}> {}
export interface PreviewReadyEvent extends EventBase<'preview.ready', {
  port: number; url: string; address?: string; pid?: number;
}> {}
export interface ArtifactCreatedEvent extends EventBase<'artifact.created', {
  path: string; size_bytes: number; content_type: string; sha256: string;
}> {}
/**
 * What an approval.required asks about. A policy that asks before the run starts asks about the
 * run itself: kind 'run', name 'run.start', input the runtime, prompt, cwd, command and connectors.
 */
export interface ApprovalAction {
  kind: ApprovalActionKind;
  name?: string;
  /** One line a UI can show. */
  summary?: string;
  input?: unknown;
}
/** The payload of an approval.required event. */
export interface ApprovalRequest {
  /** Answer with this id. */
  approval_id: string;
  action: ApprovalAction;
  /** A live approval: the runtime's own id for its request (the host answers the runtime with it). */
  request_id?: string;
  /** The tool.started this approval is about. */
  tool_call_id?: string;
  /** Why it needs approval (the policy's reason, prefixed with its id). */
  reason?: string;
  /** The id of the policy that asks. */
  policy?: string;
  /** The asking policy's rule (delete, network... for the bundled risky-actions). */
  rule?: string;
  /** Every policy's answer. */
  policy_decision?: PolicyDecision;
  /** The answers it takes. */
  options?: Array<'allow' | 'deny'>;
  /** RFC 3339: no answer by then is a deny (approval.resolved, source 'deadline'). */
  deadline?: string;
}
export interface ApprovalRequiredEvent extends EventBase<'approval.required', ApprovalRequest> {}
export interface ApprovalResolvedEvent extends EventBase<'approval.resolved', {
  approval_id: string;
  decision: 'allow' | 'deny';
  /**
   * What the decision covers: this request ('once'), or also every later request of the run for
   * the same action name, policy and rule ('run'; those are answered without asking, recorded as
   * policy.decision naming this approval).
   */
  scope?: ApprovalScope;
  /** An answer ('human'), a policy deciding without asking, the deadline passing, the run being cancelled. */
  source?: 'human' | 'policy' | 'deadline' | 'cancel';
  /** Who answered, as the answering caller named them (resolveApproval's `by`). */
  by?: string;
  reason?: string;
}> {}
export interface DeploymentReadyEvent extends EventBase<'deployment.ready', {
  url: string; deployment_id?: string; version_id?: string;
}> {}
export interface UsageEvent extends EventBase<'usage', {
  source: string; input_tokens?: number; output_tokens?: number; cached_input_tokens?: number; cost_usd?: number; model?: string;
}> {}
export interface RunCompletedEvent extends EventBase<'run.completed', {
  exit_code?: number; result?: string; duration_ms?: number; session_id?: string; output_truncated?: boolean;
}> {}
export interface RunFailedEvent extends EventBase<'run.failed', {
  error: EventError; exit_code?: number; signal?: number; output_truncated?: boolean;
}> {}
export interface RunCancelledEvent extends EventBase<'run.cancelled', {
  reason?: string; by?: string; output_truncated?: boolean;
}> {}
export interface RuntimeUnparsedEvent extends EventBase<'runtime.unparsed', {
  stream: OutputStream; line: string; reason: string; truncated?: boolean;
}> {}
/**
 * The policies answered a runtime's request for approval themselves (allow or deny), or an
 * earlier answer with scope 'run' did (approval_id names it).
 */
export interface PolicyDecisionEvent extends EventBase<'policy.decision', PolicyDecision & {
  /** Always 'action' today. */
  phase: 'run.start' | 'action';
  /** What was asked about. */
  action?: { kind: ApprovalActionKind; name?: string };
  /** The tool.started it is about. */
  tool_call_id?: string;
  /** The approval.required this decision raised, or the earlier approval (scope 'run') that answered it. */
  approval_id?: string;
}> {}

export type RunhostEvent =
  | RunStartedEvent | MessageEvent | ReasoningEvent | ToolStartedEvent | ToolCompletedEvent
  | CommandOutputEvent | FileChangedEvent | PreviewReadyEvent | ArtifactCreatedEvent
  | ApprovalRequiredEvent | ApprovalResolvedEvent | DeploymentReadyEvent | UsageEvent
  | RunCompletedEvent | RunFailedEvent | RunCancelledEvent | RuntimeUnparsedEvent | PolicyDecisionEvent;
export type EventType = RunhostEvent['type'];
export type TerminalEvent = RunCompletedEvent | RunFailedEvent | RunCancelledEvent;

// ---- host and runs ------------------------------------------------------------------------
export type ApprovalPolicy = 'auto' | 'confirm-risky' | 'manual';

/**
 * What host.dispatch() takes: the MIOSA DevicePromptDispatch (camelCase keys). The core checks
 * every field; a bad or unknown one is an InvalidDispatchError naming it.
 */
export interface DevicePromptDispatch {
  tenantId: string;
  workspaceId: string;
  projectId?: string;
  userId: string;
  deviceType: DeviceType;
  /**
   * The device: required for 'local'. For 'sandbox', a MIOSA sandbox id (sbx_...; resumed if
   * paused); left out, the project's current sandbox, or a new one.
   */
  deviceId?: string;
  /** A runtime adapter's id: custom, claude-code, codex, gemini-cli, opencode... */
  runtime: string;
  prompt: string;
  approvalPolicy: ApprovalPolicy;
  /** Per tenant: the same key again gives the same run (a different request with it is idempotency_conflict). */
  idempotencyKey: string;
  /** Inside the host's workspaceRoot (default: the workspace root). */
  cwd?: string;
  /** Connector ids; each needs a grant for the user (connector_authorization_missing otherwise). */
  connectors?: string[];
  /** Per run, in seconds; the host's defaultTimeoutSeconds otherwise. */
  timeoutSeconds?: number;
  /** Continue the runtime's own session (runtimes with the resume capability). */
  resumeSessionId?: string;
  /** The custom runtime: the command to run (no shell). */
  command?: string[];
  /** The custom runtime: its output is plain text lines, or unified JSON lines. */
  outputMode?: 'text' | 'jsonl';
}

export interface HostOptions {
  /** The store file (default: defaultStorePath); a relative path is resolved now. */
  store?: string | URL;
  /** Directories searched first for plugins. */
  pluginPaths?: Array<string | URL>;
  /**
   * Read the environment (default true): search RUNHOST_PLUGIN_PATH for plugins, and fill the
   * `miosa` members left out from MIOSA_BASE_URL, MIOSA_API_KEY (or MIOSA_ACCESS_TOKEN) and
   * MIOSA_TENANT. False: only what is passed here counts (no sandbox device without `miosa.apiKey`).
   */
  useEnvironment?: boolean;
  /** Also load the bundled plugins (default true). */
  useBundled?: boolean;
  /** Local runs' cwd must lie inside it (default: the current directory). */
  workspaceRoot?: string | URL;
  /** Plugin id → configuration, replacing the manifest's: a JSON text, or a value made JSON. */
  pluginConfig?: Record<string, unknown>;
  /** Per run, in seconds (default 3600); a dispatch's timeoutSeconds wins. */
  defaultTimeoutSeconds?: number;
  /**
   * How long an approval.required waits for its answer, in whole seconds (default 3600); none
   * by then is a deny (approval.resolved with source 'deadline', then run.failed policy_denied).
   */
  approvalTimeoutSeconds?: number;
  /** fsync each group commit (default true). */
  durable?: boolean;
  /** Keep each event's native line in `raw` (default false). */
  keepRaw?: boolean;
  /** Output text recorded per run (default 64 MiB); the rest is counted and marked truncated. */
  maxOutputBytes?: number;
  /** Which files become artifact.created (default: the local device's patterns). */
  artifactPatterns?: string[];
  /**
   * Budgets and quotas (docs/budgets.md), or their JSON text; left out, nothing is limited. A
   * dispatch past one rejects with BudgetExceededError or QuotaExceededError. An unknown key or a
   * bad value: the host does not open (InvalidDispatchError naming it).
   */
  limits?: Limits | string;
  /**
   * The sandbox device: MIOSA sandboxes (dispatch with deviceType 'sandbox'). Members left out
   * are read from the environment (see useEnvironment). Without a key the host has no sandbox
   * device, and a sandbox dispatch rejects with DeviceUnavailableError (recovery action
   * 'configure_device').
   */
  miosa?: MiosaOptions;
}

/** HostOptions.miosa: the MIOSA account the sandbox device uses. Every member optional. */
export interface MiosaOptions {
  /**
   * The MIOSA API (default: MIOSA_BASE_URL, else https://api.miosa.ai/api/v1); `/api/v1` is
   * appended unless the URL ends in `/v<N>`.
   */
  baseUrl?: string;
  /**
   * The API key (default: MIOSA_ACCESS_TOKEN, else MIOSA_API_KEY). A secret: the host never puts
   * it in an event, a log line, the store or a URL.
   */
  apiKey?: string;
  /** Sent as X-MIOSA-Tenant (default: MIOSA_TENANT; none). */
  tenant?: string;
  /** The template of the sandboxes the host creates (default "miosa-sandbox"). */
  templateId?: string;
}

/** Budgets: USD and tokens (input + output) of usage events, per run, user-day (UTC) and tenant-month (UTC). */
export interface BudgetLimits {
  run_usd?: number;
  run_tokens?: number;
  user_day_usd?: number;
  user_day_tokens?: number;
  tenant_month_usd?: number;
  tenant_month_tokens?: number;
}

/** Quotas: runs queued or running now, and runs started in a sliding window. */
export interface QuotaLimits {
  concurrent_per_tenant?: number;
  concurrent_per_user?: number;
  concurrent_per_workspace?: number;
  runs_per_tenant_per_hour?: number;
  runs_per_user_per_day?: number;
}

/** HostOptions.limits: every key optional; a key left out is no limit. */
export interface Limits {
  budgets?: BudgetLimits;
  quotas?: QuotaLimits;
  /** Per tenant: changes only the keys it names; null lifts a limit for that tenant. */
  tenants?: Record<string, {
    budgets?: { [K in keyof BudgetLimits]?: number | null };
    quotas?: { [K in keyof QuotaLimits]?: number | null };
  }>;
}

/** What the usage events of one usage source add up to (host.usage()). */
export interface UsageTotal {
  /** As the usage events name it: 'anthropic', 'openai'... */
  source: string;
  costUsd: number;
  /** Cached input included, as runtimes report it. */
  inputTokens: number;
  outputTokens: number;
  /** The part of inputTokens read from a cache. */
  cachedInputTokens: number;
  /** How many usage events were added up. */
  events: number;
}

/** What usage() takes: every filter given must hold. */
export interface UsageFilter {
  userId?: string | null;
  workspaceId?: string | null;
  runId?: string | null;
  /** The operator's total of one tenant (a TenantView adds up its own only). */
  tenantId?: string | null;
  /** Events at or after this, in microseconds since the epoch (Date.now() * 1000); 0: unbounded. */
  sinceUs?: number;
  /** Events before this, in microseconds since the epoch; 0: unbounded. */
  untilUs?: number;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RunInfo {
  id: string;
  status: RunStatus;
  tenantId: string;
  workspaceId: string;
  projectId: string | null;
  userId: string;
  runtime: string;
  deviceType: DeviceType;
  deviceId: string;
  prompt: string;
  errorCode: ErrorCode | null;
  /** The seq of the newest stored event (0: none yet). */
  lastSeq: number;
  /** Microseconds since the epoch. */
  createdUs: number;
  updatedUs: number;
}

export interface PluginInfo {
  id: string;
  kind: 'runtime' | 'policy' | 'connector';
  version: string;
  name: string;
  vendor: string;
  description: string;
  /** The library, absolute. */
  library: string;
  /** "major.minor" of the ABI it was built for. */
  abi: string;
}

export interface Plugins {
  /** In search order; the first library to claim a (kind, id) wins. */
  loaded: PluginInfo[];
  /** Libraries, manifests or directories refused, each with a one-line reason. */
  refused: Array<{ path: string; reason: string }>;
  /** The directories searched, in order. */
  directories: string[];
}

/**
 * One reader of one run's events, from a cursor to the terminal event: stored events, then live
 * ones, in order, without gaps or repeats. One loop at a time; a loop that breaks closes it.
 */
export class EventStream implements AsyncIterableIterator<RunhostEvent> {
  readonly runId: string;
  /** The seq of the last event returned: the `after` to go on from. */
  readonly cursor: number;
  /** True once the terminal event was returned or the stream was closed. */
  readonly ended: boolean;
  next(): Promise<IteratorResult<RunhostEvent, undefined>>;
  /** Stops following the run (the run goes on). */
  return(): Promise<IteratorResult<RunhostEvent, undefined>>;
  /** @throws StreamConsumedError once ended or closed, or while another loop iterates it. */
  [Symbol.asyncIterator](): EventStream;
}

export interface RunEvents {
  /** Every event from seq 1, once a listener is added. */
  event: [event: RunhostEvent];
  /** After the terminal event was emitted. */
  end: [last: TerminalEvent];
  /** A listener threw (EventHandlerError), or the stream stopped (HostClosedError...). */
  error: [error: EventHandlerError | RunhostError | HostClosedError];
}

/** run.events() options. */
export interface EventsOptions {
  /** Only events with seq > after (default 0: from the first). */
  after?: number;
  /** Ends the iteration: the pending step rejects with signal.reason (an AbortError by default); the run goes on. */
  signal?: AbortSignal;
}

/** 'allow' lets the action (or the run) go on; 'deny' refuses it (the run fails with policy_denied). */
export type ApprovalDecision = 'allow' | 'deny';
/**
 * How far an answer reaches: 'once', this request alone (the default); 'run', also every later
 * request of the run for the same action name, policy and rule.
 */
export type ApprovalScope = 'once' | 'run';

/** The answer to an approval.required event, given to run.resolveApproval(). */
export type ApprovalAnswer = (
  | { /** The event's payload.approval_id. */ approvalId: string; requestId?: string }
  | { /** A synonym of approvalId. */ requestId: string; approvalId?: string }
) & {
  decision: ApprovalDecision;
  /** Default 'once'; any other value than 'once' or 'run' is refused (TypeError). */
  scope?: ApprovalScope;
  /** Recorded in approval.resolved (and in the run.failed of a denial). */
  reason?: string;
  /** Who answers, as your application names them: recorded in approval.resolved as `by`. */
  by?: string;
};

/** The answer given to host.resolveApproval(): the run it is for, and the answer. */
export type HostApprovalAnswer = ApprovalAnswer & { runId: string };

/** An approval.required still waiting for its answer (host.pendingApprovals()). */
export interface PendingApproval {
  /** The approval id to answer (the event's payload.approval_id). */
  id: string;
  runId: string;
  tenantId: string;
  /** The seq of the run's approval.required event. */
  seq: number;
  /** That event's payload: the action (its summary), the reason, the policy, the options, the deadline. */
  request: ApprovalRequest;
  /** Microseconds since the epoch. */
  createdUs: number;
  /** When no answer becomes a deny, in microseconds since the epoch; null: no deadline. */
  deadlineUs: number | null;
  /** An answer is recorded and the run's host is applying it (a second answer is refused). */
  answered: boolean;
}

/** A grant's state: usable, past its expiry, or revoked. */
export type GrantState = 'active' | 'expired' | 'revoked';

/**
 * A connector grant as stored (host.addGrant(), host.grants()): for one user of one tenant, what
 * they let a connector do, until when. Never its secret material.
 */
export interface Grant {
  /** 'grt_' and a ULID: what revokeGrant() takes. */
  id: string;
  tenantId: string;
  userId: string;
  connector: string;
  scopes: string[];
  state: GrantState;
  /** Microseconds since the epoch. */
  createdUs: number;
  /** When it expires, in microseconds since the epoch; null: never. */
  expiresUs: number | null;
  /** When it was revoked; null: it was not. */
  revokedUs: number | null;
  /** The JSON object kept with the grant (never secret). */
  metadata: Record<string, unknown>;
}

/** The secret material of a grant: a JSON object such as { access_token }, every string in it a secret. */
export type GrantSecret = { access_token?: string; refresh_token?: string; token_type?: string } & Record<string, unknown>;

interface GrantBase {
  connector: string;
  userId: string;
  /** In a TenantView it may be left out (it is the view's); the Host needs it. */
  tenantId?: string;
  /** Asked for (a code) or granted (a secret). */
  scopes?: string[];
  /** Seconds until it expires (with a code, what the provider says wins); left out: never. */
  expiresInSeconds?: number;
  /** A JSON object kept with the grant, never secret. */
  metadata?: Record<string, unknown>;
}

/**
 * What addGrant() takes: exactly one of `code`, an authorization code the connector exchanges
 * with its provider, or `secret`, the secret material (or a token string: { access_token }).
 */
export type GrantInput =
  | (GrantBase & { code: string; secret?: never })
  | (GrantBase & { secret: GrantSecret | string; code?: never });

/** What grants() takes. */
export interface GrantFilter {
  userId?: string | null;
  connector?: string | null;
  /** The operator's listing of one tenant (a TenantView lists its own only). */
  tenantId?: string | null;
  /** Also the revoked and expired grants (default: the active ones). */
  all?: boolean;
  /** Newest first, at most this many (default 100). */
  limit?: number;
}

export interface WaitOptions {
  /** Reject with the error of a run.failed (or CancelledError) instead of resolving. */
  check?: boolean;
  /** Stops waiting (rejects with the signal's reason); the run goes on. */
  signal?: AbortSignal;
}

/** A run: its record at dispatch, its events, its end, cancel and approvals. */
export class Run extends EventEmitter {
  readonly id: string;
  /** The record at dispatch (or at host.run()); refresh() reads it again. */
  readonly info: RunInfo;
  /** false when the idempotency key matched an existing run (nothing was started). */
  readonly created: boolean;
  /** Where the run came from: the Host, or the TenantView it was got through (whose scope it keeps). */
  readonly host: Host | TenantView;
  /** The events with seq > after (default 0): stored, then live, ending after the terminal event. */
  events(options?: EventsOptions): EventStream;
  /** The final record, once the run has ended. */
  wait(options?: WaitOptions): Promise<RunInfo>;
  cancel(): Promise<void>;
  /** Answers an approval.required of this run. */
  resolveApproval(answer: ApprovalAnswer): Promise<void>;
  /** @deprecated pass one object: resolveApproval({ approvalId, decision, reason }). */
  resolveApproval(approvalId: string, allow: boolean, reason?: string): Promise<void>;
  refresh(): Promise<RunInfo | null>;

  on<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void | Promise<void>): this;
  once<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void | Promise<void>): this;
  off<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void | Promise<void>): this;
  addListener<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void | Promise<void>): this;
  removeListener<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void | Promise<void>): this;
  emit<K extends keyof RunEvents>(event: K, ...args: RunEvents[K]): boolean;
}

/** What a TenantView's dispatch() takes: a DevicePromptDispatch whose tenantId may be left out (it is the view's). */
export type TenantDispatch = Omit<DevicePromptDispatch, 'tenantId'> & { tenantId?: string };

/** The calls that read and steer runs, as one scope sees them (Host: every tenant; TenantView: one). */
declare class RunCalls<Dispatch> {
  /**
   * Validates, records and starts a run; `signal` cancels it when it aborts. In a TenantView a
   * tenantId naming another tenant rejects with InvalidDispatchError (field tenantId).
   */
  dispatch(request: Dispatch, options?: { signal?: AbortSignal }): Promise<Run>;
  /** @throws RunNotFoundError no such run (in a TenantView: none of the tenant's). */
  cancel(runId: string): Promise<void>;
  /**
   * Answers a run's pending approval.required, from any process sharing the store.
   * @throws InvalidDispatchError the run has no such pending approval (unknown, answered already, or the run has ended).
   * @throws RunNotFoundError no such run (in a TenantView: none of the tenant's).
   */
  resolveApproval(answer: HostApprovalAnswer): Promise<void>;
  /** @deprecated pass one object: resolveApproval({ runId, approvalId, decision, reason }). */
  resolveApproval(runId: string, approvalId: string, allow: boolean, reason?: string): Promise<void>;
  /** The approval.required requests waiting for an answer, oldest first, of every process sharing the store (in a TenantView: the tenant's). */
  pendingApprovals(): Promise<PendingApproval[]>;
  /** Any run of the store (this host's, another process's, one from before a restart), or null (in a TenantView: null for another tenant's). */
  run(runId: string): Promise<Run | null>;
  /** Run records, newest first (in a TenantView only the tenant's). */
  runs(filter?: { tenantId?: string | null; status?: RunStatus | null; limit?: number }): Promise<RunInfo[]>;
  /**
   * Stored events with seq > after (at most limit, default 10000), without waiting.
   * @throws RunNotFoundError no such run (in a TenantView: none of the tenant's).
   */
  events(runId: string, options?: { after?: number; limit?: number }): Promise<RunhostEvent[]>;
  /**
   * Records a connector grant (the code exchanged by the connector first); never returns the secret.
   * @throws TypeError neither or both of code and secret; an option of the wrong type.
   * @throws InvalidDispatchError a bad field, named (err.field: tenantId, userId, connector, code, secret, scopes, expiresIn, metadata).
   * @throws ConnectorAuthorizationMissingError the provider refused the code.
   * @throws PluginErrorError the connector failed otherwise (its provider could not be reached).
   */
  addGrant(grant: GrantInput): Promise<Grant>;
  /** Grants, newest first: the active ones (with `all`, the revoked and expired too). Never a secret. */
  grants(filter?: GrantFilter): Promise<Grant[]>;
  /**
   * Revokes a grant and deletes its secret: runs dispatched from now on no longer get it.
   * @throws InvalidDispatchError no such grant, field grant_id (in a TenantView: another tenant's is none).
   */
  revokeGrant(grantId: string): Promise<void>;
  /**
   * What the usage events of every process sharing the store add up to, per usage source, most
   * spent first: the spend budgets count (in a TenantView: the tenant's only).
   */
  usage(filter?: UsageFilter): Promise<UsageTotal[]>;
}

/** The operator's view: every tenant's runs. Code acting for one tenant uses forTenant(). */
export class Host extends RunCalls<DevicePromptDispatch> {
  /** Opens on a worker thread: see `ready`. Wrong options throw TypeError / RangeError here. */
  constructor(options?: HostOptions);
  /** A Host, once open. Rejects with StoreUnavailableError, PluginErrorError... */
  static open(options?: HostOptions): Promise<Host>;
  /** Resolves once open; rejects with why it could not open (every call rejects with it too). */
  readonly ready: Promise<void>;
  /** The store file, absolute. */
  readonly storePath: string;
  /** True once close() was called. */
  readonly closed: boolean;
  /** This host as one tenant sees it: another tenant's runs are indistinguishable from missing ones. */
  forTenant(tenantId: string): TenantView;
  plugins(): Promise<Plugins>;
  /** Cancels this host's running runs, stores their last events and closes the store. Idempotent. */
  close(): Promise<void>;
  /** close(): `await using host = new Host()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** A Host as one tenant sees it (host.forTenant(tenantId)); it owns nothing and cannot close the Host. */
export class TenantView extends RunCalls<TenantDispatch> {
  private constructor();
  readonly tenantId: string;
  /** True once the Host was closed. */
  readonly closed: boolean;
}
