'use strict';
// Argument checks at the API's edge, so a mistake is reported where it was made: a wrong type is
// a TypeError naming the argument, a value out of range a RangeError, and a dispatch holding a
// value JSON cannot carry an InvalidDispatchError naming the field (as the core names its own).
const path = require('node:path');
const { fileURLToPath } = require('node:url');

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name && value.constructor !== Object ? `a ${value.constructor.name}` : 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  return `${typeof value} ${String(value)}`;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function typeError(name, what, value) {
  return new TypeError(`${name} must be ${what}, not ${describe(value)}`);
}

function string(name, value) {
  if (typeof value !== 'string') throw typeError(name, 'a string', value);
  return value;
}

function nonEmptyString(name, value) {
  if (typeof value !== 'string' || value === '') throw typeError(name, 'a non-empty string', value);
  return value;
}

function boolean(name, value) {
  if (typeof value !== 'boolean') throw typeError(name, 'a boolean', value);
  return value;
}

function integer(name, value, min) {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(name, 'an integer', value);
  if (value < min || !Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer >= ${min}, not ${value}`);
  return value;
}

/** An absolute path from a string or a file: URL. */
function filePath(name, value) {
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw new TypeError(`${name} must be a path or a file: URL, not ${value.href}`);
    return fileURLToPath(value);
  }
  if (typeof value !== 'string' || value === '') throw typeError(name, 'a path (a non-empty string or a file: URL)', value);
  return path.resolve(value);
}

function list(name, value, each) {
  if (!Array.isArray(value)) throw typeError(name, 'an array', value);
  return value.map((v, i) => each(`${name}[${i}]`, v));
}

/**
 * The options object of `call` ('Host', 'run.events()'...), with only the keys `known`: an
 * unknown one (a misspelt `sginal`) is a TypeError naming it and the options there are, the same
 * for every call, rather than an option silently ignored.
 */
function options(call, value, known) {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(`${call} options`, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new TypeError(`unknown ${call} option ${JSON.stringify(key)} (the options: ${known.join(', ')})`);
  }
  return value;
}

/** One of `values` (a TypeError naming the argument and the values otherwise). */
function oneOf(name, value, values) {
  if (!values.includes(value)) {
    throw new TypeError(`${name} must be ${values.map((v) => JSON.stringify(v)).join(' or ')}, not ${describe(value)}`);
  }
  return value;
}

// new Host(options): every option, how it is checked and what the addon receives.
const HOST_OPTIONS = {
  store: filePath,
  pluginPaths: (name, v) => list(name, v, filePath),
  workspaceRoot: filePath,
  pluginConfig: (name, v) => {
    if (!isPlainObject(v)) throw typeError(name, 'an object of plugin id → configuration', v);
    return Object.fromEntries(Object.entries(v).map(([id, config]) => {
      if (typeof config === 'string') return [id, config];
      jsonValue(config, `${name}[${JSON.stringify(id)}]`, new Set(), (where, problem) => new TypeError(`${where} ${problem}`));
      return [id, JSON.stringify(config)];
    }));
  },
  useEnvironment: boolean,
  useBundled: boolean,
  durable: boolean,
  keepRaw: boolean,
  defaultTimeoutSeconds: (name, v) => integer(name, v, 1),
  approvalTimeoutSeconds: (name, v) => integer(name, v, 1),
  maxOutputBytes: (name, v) => integer(name, v, 1),
  artifactPatterns: (name, v) => list(name, v, nonEmptyString),
};

function hostOptions(value) {
  const given = options('Host', value, Object.keys(HOST_OPTIONS));
  const out = {};
  for (const [key, v] of Object.entries(given)) {
    if (v !== undefined) out[key] = HOST_OPTIONS[key](key, v);
  }
  return out;
}

/**
 * Walks a value that is to become JSON; `fail(where, problem)` makes the error for the first
 * value JSON.stringify would drop, change or refuse. An undefined object member is left out,
 * as JSON.stringify leaves it (the JS way of saying "not set").
 */
function jsonValue(value, where, seen, fail) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw fail(where, `JSON cannot represent ${value}`);
      return;
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) throw fail(where, 'is circular (it contains itself)');
      const array = Array.isArray(value);
      if (!array && !isPlainObject(value)) throw fail(where, `JSON cannot represent ${describe(value)}`);
      seen.add(value);
      if (array) {
        value.forEach((v, i) => jsonValue(v, `${where}[${i}]`, seen, fail));
      } else {
        for (const [k, v] of Object.entries(value)) {
          if (v !== undefined) jsonValue(v, where ? `${where}.${k}` : k, seen, fail);
        }
      }
      seen.delete(value);
      return;
    }
    default:
      throw fail(where, `JSON cannot represent ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}`);
  }
}

/** The dispatch as JSON text; InvalidDispatchError (made by `invalid`) for a value JSON cannot hold. */
function dispatchJson(request, invalid) {
  if (!isPlainObject(request)) throw typeError('dispatch', 'a DevicePromptDispatch object', request);
  jsonValue(request, '', new Set(), invalid);
  return JSON.stringify(request);
}

function signal(name, value) {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw typeError(name, 'an AbortSignal', value);
  return value;
}

let warnedPositional = false;
/** The old positional resolveApproval(..., allow, reason): works, with one DeprecationWarning per process. */
function deprecatedPositionalApproval(call) {
  if (warnedPositional) return;
  warnedPositional = true;
  process.emitWarning(`${call}(…, approvalId, allow, reason) with positional arguments is deprecated: pass one object, ` +
    `${call}({ ${call.startsWith('run.') ? '' : 'runId, '}approvalId, decision: 'allow' | 'deny', reason })`,
  { type: 'DeprecationWarning', code: 'RUNHOST_DEP0001' });
}

/**
 * An answer to an approval.required: { runId?, approvalId (or requestId, its synonym), decision,
 * scope, reason, by } checked, as { runId, approvalId, allow, scope, reason, by } for the addon
 * ('' for a reason or a `by` not given).
 */
function approvalAnswer(call, value, { withRunId }) {
  const keys = [...(withRunId ? ['runId'] : []), 'approvalId', 'requestId', 'decision', 'scope', 'reason', 'by'];
  if (value === undefined) throw new TypeError(`${call} takes an answer: { ${keys.join(', ')} }`);
  const o = options(call, value, keys);
  if (withRunId) nonEmptyString('runId', o.runId);
  if (o.approvalId !== undefined && o.requestId !== undefined && o.approvalId !== o.requestId) {
    throw new TypeError(`approvalId and requestId are two names for the same id (the event's approval_id), and they differ: ${JSON.stringify(o.approvalId)}, ${JSON.stringify(o.requestId)}`);
  }
  const approvalId = o.approvalId ?? o.requestId;
  if (approvalId === undefined) throw new TypeError(`${call} needs approvalId (the approval.required event's payload.approval_id; requestId is accepted too)`);
  nonEmptyString(o.approvalId !== undefined ? 'approvalId' : 'requestId', approvalId);
  oneOf('decision', o.decision, ['allow', 'deny']);
  const scope = o.scope ?? 'once';
  if (scope !== 'once') {
    throw new TypeError(`scope ${typeof scope === 'string' ? JSON.stringify(scope) : describe(scope)} is not supported: ` +
      'the only scope today is "once" (this request alone), the default');
  }
  const reason = o.reason === undefined ? '' : string('reason', o.reason);
  const by = o.by === undefined ? '' : nonEmptyString('by', o.by);
  return { runId: o.runId, approvalId, allow: o.decision === 'allow', scope, reason, by };
}

module.exports = {
  approvalAnswer, deprecatedPositionalApproval,
  describe, string, nonEmptyString, boolean, integer, options, oneOf, signal, hostOptions, dispatchJson,
  runId: (v) => nonEmptyString('runId', v),
  after: (v) => integer('after', v, 0),
};
