// The runhost package for `import`: the same objects as require('runhost') (lib/index.js), as
// named exports. Node cannot see the error classes among the CommonJS exports by itself (they are
// made at load time from the addon's table of codes), so they are named here; test/exports.test.js
// fails when this list and lib/index.js (or lib/index.d.ts) differ.
import runhost from './index.js';

export const {
  Host, TenantView, Run, EventStream,
  RunhostError, HostClosedError, StreamConsumedError, EventHandlerError,
  InvalidDispatchError, RuntimeNotFoundError, RuntimeCrashedError, RuntimeErrorError, TimeoutError,
  CancelledError, PolicyDeniedError, BudgetExceededError, QuotaExceededError,
  ConnectorAuthorizationMissingError, DeviceUnavailableError, DeviceLostError, PluginErrorError,
  IdempotencyConflictError, InternalError, AuthFailedError, RateLimitedError, ModelUnavailableError,
  ModelApiErrorError, TurnLimitError, ContextLimitError, SessionNotFoundError, StoreUnavailableError,
  RunNotFoundError,
  errorFromEvent, errorCodes, defaultStorePath,
} = runhost;

export default runhost;
