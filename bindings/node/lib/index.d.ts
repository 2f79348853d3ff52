// Types for the runhost Node binding (lib/index.js). The event union follows
// docs/events.schema.json (runhost.event/1): one interface per event type, discriminated by `type`.
import { EventEmitter } from 'node:events';

// ---- errors -------------------------------------------------------------------------------
export type ErrorCode =
  | 'invalid_dispatch' | 'runtime_not_found' | 'runtime_crashed' | 'runtime_error' | 'timeout'
  | 'cancelled' | 'policy_denied' | 'budget_exceeded' | 'quota_exceeded'
  | 'connector_authorization_missing' | 'device_unavailable' | 'device_lost' | 'plugin_error'
  | 'idempotency_conflict' | 'internal' | 'auth_failed' | 'rate_limited' | 'model_unavailable'
  | 'model_api_error' | 'turn_limit' | 'context_limit' | 'session_not_found' | 'store_unavailable';

/** An error code as it can appear inside a run.failed event (no store_unavailable). */
export type EventErrorCode = Exclude<ErrorCode, 'store_unavailable'>;

export type RecoveryAction =
  | 'retry' | 'fix_dispatch' | 'install_runtime' | 'connect_account' | 'review_policy'
  | 'raise_budget' | 'request_quota' | 'resume_device' | 'contact_support';

export interface Recovery {
  action: RecoveryAction;
  /** fix_dispatch: the dispatch field to fix (camelCase). */
  field?: string;
  /** connect_account: which connector. */
  connector?: string;
  /** connect_account: where the user connects the account. */
  connect_url?: string;
  /** retry, request_quota: when trying again may work. */
  retry_after_ms?: number;
  hint?: string;
  /** raise_budget, request_quota: which usage source ran out. */
  usage_source?: string;
}

export interface RunhostErrorOptions {
  code?: ErrorCode;
  retryable?: boolean;
  recovery?: Recovery | null;
  cause?: unknown;
}

export class RunhostError extends Error {
  constructor(message: string, opts?: RunhostErrorOptions);
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly recovery: Recovery | null;
}

/** The Host was closed; the call, or a stream of it, cannot go on. */
export class HostClosedError extends Error {
  constructor(message?: string);
  readonly code: 'host_closed';
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

export const errorCodes: ReadonlyArray<{ code: ErrorCode; retryable: boolean }>;
export const defaultStorePath: string;

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

export interface RunStartedEvent extends EventBase<'run.started', {
  cwd: string; argv: string[]; pid?: number; resume_id?: string;
}> {}
export interface MessageEvent extends EventBase<'message', {
  role: 'assistant' | 'user' | 'system'; text: string; delta?: boolean; truncated?: boolean;
}> {}
export interface ReasoningEvent extends EventBase<'reasoning', { text: string; delta?: boolean }> {}
export interface ToolStartedEvent extends EventBase<'tool.started', {
  tool_call_id: string; name: string; input?: unknown; kind?: 'tool' | 'command' | 'mcp' | 'connector' | 'file';
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
export interface ApprovalRequiredEvent extends EventBase<'approval.required', {
  approval_id: string;
  action: { kind: 'tool' | 'command' | 'connector' | 'publish' | 'spend'; name?: string; input?: unknown };
  reason?: string;
}> {}
export interface ApprovalResolvedEvent extends EventBase<'approval.resolved', {
  approval_id: string; decision: 'allow' | 'deny'; by?: string; reason?: string;
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

export type RunhostEvent =
  | RunStartedEvent | MessageEvent | ReasoningEvent | ToolStartedEvent | ToolCompletedEvent
  | CommandOutputEvent | FileChangedEvent | PreviewReadyEvent | ArtifactCreatedEvent
  | ApprovalRequiredEvent | ApprovalResolvedEvent | DeploymentReadyEvent | UsageEvent
  | RunCompletedEvent | RunFailedEvent | RunCancelledEvent | RuntimeUnparsedEvent;
export type EventType = RunhostEvent['type'];
export type TerminalEvent = RunCompletedEvent | RunFailedEvent | RunCancelledEvent;

// ---- host and runs ------------------------------------------------------------------------
/** A DevicePromptDispatch (camelCase keys); the core validates it (invalid_dispatch). */
export interface DevicePromptDispatch {
  tenantId: string;
  workspaceId: string;
  projectId?: string;
  userId: string;
  deviceType: DeviceType;
  deviceId: string;
  runtime: string;
  prompt: string;
  approvalPolicy?: string;
  idempotencyKey?: string;
  command?: string[];
  cwd?: string;
  [field: string]: unknown;
}

export interface HostOptions {
  /** The store file (default: the XDG data dir, see defaultStorePath). */
  store?: string;
  pluginPaths?: string[];
  useEnvironment?: boolean;
  useBundled?: boolean;
  workspaceRoot?: string;
  /** Per-plugin configuration; non-strings are passed as JSON. */
  pluginConfig?: Record<string, unknown>;
  defaultTimeoutSeconds?: number;
  durable?: boolean;
  keepRaw?: boolean;
  maxOutputBytes?: number;
  artifactPatterns?: string[];
}

export type RunStatus = string;

export interface RunInfo {
  id: string;
  status: RunStatus;
  tenantId: string;
  workspaceId: string;
  projectId: string | null;
  userId: string;
  runtime: string;
  deviceType: string;
  deviceId: string;
  prompt: string;
  errorCode: ErrorCode | null;
  lastSeq: number;
  createdUs: number;
  updatedUs: number;
}

/** One reader of one run's events, from a cursor to the terminal event. */
export class EventStream implements AsyncIterableIterator<RunhostEvent> {
  /** The seq of the last event returned. */
  readonly cursor: number;
  next(): Promise<IteratorResult<RunhostEvent, undefined>>;
  return(): Promise<IteratorResult<RunhostEvent, undefined>>;
  [Symbol.asyncIterator](): EventStream;
}

export interface RunEvents {
  event: [event: RunhostEvent];
  end: [];
  error: [error: RunhostError | HostClosedError];
}

/** A run: its info at dispatch, its events, cancel. Emits 'event', 'end' and 'error' once listened to. */
export class Run extends EventEmitter {
  readonly id: string;
  readonly info: RunInfo;
  /** false when the idempotency key matched an existing run. */
  readonly created: boolean;
  events(options?: { after?: number }): EventStream;
  cancel(): Promise<unknown>;
  resolveApproval(approvalId: string, allow: boolean, reason?: string): Promise<unknown>;
  refresh(): Promise<RunInfo | null>;

  on<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void): this;
  once<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void): this;
  off<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void): this;
  addListener<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void): this;
  removeListener<K extends keyof RunEvents>(event: K, listener: (...args: RunEvents[K]) => void): this;
  emit<K extends keyof RunEvents>(event: K, ...args: RunEvents[K]): boolean;
}

export class Host {
  constructor(options?: HostOptions);
  dispatch(request: DevicePromptDispatch, options?: { signal?: AbortSignal }): Promise<Run>;
  cancel(runId: string): Promise<unknown>;
  resolveApproval(runId: string, approvalId: string, allow: boolean, reason?: string): Promise<unknown>;
  run(runId: string): Promise<RunInfo | null>;
  runs(filter?: { tenantId?: string | null; status?: RunStatus | null; limit?: number }): Promise<RunInfo[]>;
  events(runId: string, options?: { after?: number; limit?: number }): Promise<RunhostEvent[]>;
  stream(runId: string, options?: { after?: number }): EventStream;
  readonly storePath: string;
  /** Cancels this host's running runs, stores their last events and closes the store. Idempotent. */
  close(): Promise<void>;
}
