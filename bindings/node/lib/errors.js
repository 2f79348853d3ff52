'use strict';
// RunhostError and one subclass per code of RUNHOST_ERROR_CODES. The table comes from the addon
// (compiled from the C++ macro), so JS never repeats it. Besides them, three errors of the
// binding's own: HostClosedError, StreamConsumedError and EventHandlerError.

class RunhostError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, retryable?: boolean, recovery?: object|null, runId?: string|null, cause?: unknown}} [opts]
   */
  constructor(message, opts = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'RunhostError';
    this.code = opts.code ?? 'internal';
    this.retryable = opts.retryable ?? false;
    this.recovery = opts.recovery ?? null;
    this.runId = opts.runId ?? null;
  }

  /** What to do about it: recovery.action ("fix_dispatch", "retry", "connect_account"...). */
  get action() { return this.recovery?.action ?? null; }
  /** invalid_dispatch: the dispatch field that was wrong (recovery.field). */
  get field() { return this.recovery?.field ?? null; }
}

/** The Host was closed; the call, or a stream of it, cannot go on. Open a new Host on the store. */
class HostClosedError extends Error {
  constructor(message = 'the runhost Host is closed') {
    super(message);
    this.name = 'HostClosedError';
    this.code = 'host_closed';
  }
}

/** An EventStream that has ended or was closed, iterated again; run.events() gives a new one. */
class StreamConsumedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'StreamConsumedError';
    this.code = 'stream_consumed';
  }
}

/**
 * A listener of run.on('event') threw (or its promise rejected). Reported as the run's 'error'
 * (or a process warning when nothing listens for 'error'); the run and the other listeners go on.
 */
class EventHandlerError extends Error {
  constructor(cause, event) {
    super(`a run.on('event') listener threw on event ${event.seq} (${event.type}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'EventHandlerError';
    this.code = 'event_handler_failed';
    this.event = event;
  }
}

function className(code) {
  return code.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Error';
}

function build(errorCodes) {
  const byCode = new Map();
  const classes = {};
  for (const [code, retryable, action] of errorCodes) {
    const name = className(code);
    // A named class per code: `err instanceof TimeoutError`, `err.name === 'TimeoutError'`.
    const cls = {
      [name]: class extends RunhostError {
        constructor(message, opts = {}) {
          super(message, { retryable, ...opts, code });
          this.name = name;
        }
      },
    }[name];
    // What the caller can do about this code when the error names nothing more specific.
    Object.defineProperty(cls, 'defaultRecoveryAction', { value: action, enumerable: true });
    byCode.set(code, cls);
    classes[name] = cls;
  }

  /** The error of a run.failed event (its own retryable and recovery), or a run.cancelled one's. */
  function fromEvent(event) {
    if (event?.type === 'run.failed') {
      const e = event.payload.error;
      const cls = byCode.get(e.code) ?? RunhostError;
      return new cls(e.message, { code: e.code, retryable: e.retryable, recovery: e.recovery ?? null, runId: event.run_id });
    }
    if (event?.type === 'run.cancelled') {
      const why = event.payload.reason ? `: ${event.payload.reason}` : '';
      return new (byCode.get('cancelled'))(`run ${event.run_id} was cancelled${why}`, { runId: event.run_id });
    }
    return null;
  }

  /** An error from the addon (src/binding.hpp) as RunhostError / HostClosedError. */
  function fromNative(err) {
    if (!err || typeof err !== 'object') return err;
    if (err.hostClosed) return new HostClosedError(err.message);
    if (typeof err.runhostCode !== 'string') return err;  // a TypeError of the addon's, say
    let recovery = null;
    if (err.recoveryJson) {
      try { recovery = JSON.parse(err.recoveryJson); } catch (_) { recovery = null; }
    }
    const cls = byCode.get(err.runhostCode) ?? RunhostError;
    return new cls(err.message, { code: err.runhostCode, retryable: err.retryable, recovery });
  }

  return { byCode, classes, fromEvent, fromNative };
}

module.exports = { RunhostError, HostClosedError, StreamConsumedError, EventHandlerError, className, build };
