'use strict';
// RunhostError and one subclass per code of RUNHOST_ERROR_CODES. The table comes from the addon
// (compiled from the C++ macro), so JS never repeats it.

class RunhostError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, retryable?: boolean, recovery?: object|null, cause?: unknown}} [opts]
   */
  constructor(message, opts = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'RunhostError';
    this.code = opts.code ?? 'internal';
    this.retryable = opts.retryable ?? false;
    this.recovery = opts.recovery ?? null;
  }
}

/** The Host was closed; the call, or a stream of it, cannot go on. */
class HostClosedError extends Error {
  constructor(message = 'the runhost Host is closed') {
    super(message);
    this.name = 'HostClosedError';
    this.code = 'host_closed';
  }
}

function className(code) {
  return code.split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('') + 'Error';
}

function build(errorCodes) {
  const byCode = new Map();
  const classes = {};
  for (const [code, retryable] of errorCodes) {
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
    byCode.set(code, cls);
    classes[name] = cls;
  }
  return { byCode, classes };
}

/** Converts an error from the addon (see src/binding.hpp) to RunhostError / HostClosedError. */
function fromNative(byCode, err) {
  if (!err || typeof err !== 'object') return err;
  if (err.hostClosed) return new HostClosedError(err.message);
  if (typeof err.runhostCode !== 'string') return err;  // a TypeError of ours, say
  let recovery = null;
  if (err.recoveryJson) {
    try { recovery = JSON.parse(err.recoveryJson); } catch (_) { recovery = null; }
  }
  const cls = byCode.get(err.runhostCode) ?? RunhostError;
  return new cls(err.message, { code: err.runhostCode, retryable: err.retryable, recovery });
}

module.exports = { RunhostError, HostClosedError, build, fromNative };
