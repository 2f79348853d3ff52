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

// HostOptions.miosa: the sandbox device's MIOSA account (docs/devices.md). Each member a string;
// one left out (or empty) is read from the environment unless useEnvironment is false.
const MIOSA_OPTIONS = ['baseUrl', 'apiKey', 'tenant', 'templateId'];

function miosaOptions(name, value) {
  if (!isPlainObject(value)) throw typeError(name, `an object { ${MIOSA_OPTIONS.join(', ')} }`, value);
  const out = {};
  for (const [key, v] of Object.entries(value)) {
    if (!MIOSA_OPTIONS.includes(key)) {
      throw new TypeError(`unknown ${name} option ${JSON.stringify(key)} (the options: ${MIOSA_OPTIONS.join(', ')})`);
    }
    if (v === undefined) continue;
    if (typeof v !== 'string') {
      // The key is a secret: a message about it names its type only, never its value.
      throw new TypeError(`${name}.${key} must be a string, not ${key === 'apiKey' ? kindOf(v) : describe(v)}`);
    }
    out[key] = v;
  }
  return out;
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
  // Budgets and quotas (docs/budgets.md): an object, or its JSON text. The core judges the keys
  // and values when the host opens (InvalidDispatchError naming the key).
  limits: (name, v) => {
    if (typeof v === 'string') return v;
    if (!isPlainObject(v)) throw typeError(name, 'an object of budgets and quotas (or its JSON text)', v);
    jsonValue(v, name, new Set(), (where, problem) => new TypeError(`${where} ${problem}`));
    return JSON.stringify(v);
  },
  // The sandbox device (MIOSA): { baseUrl, apiKey, tenant, templateId }, strings.
  miosa: miosaOptions,
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

const USAGE_KEYS = ['userId', 'workspaceId', 'runId', 'tenantId', 'sinceUs', 'untilUs'];

/**
 * usage()'s filter checked, as the addon takes it: { tenantId, userId, workspaceId, runId (null:
 * any), sinceUs, untilUs (microseconds since the epoch, Date.now() * 1000; 0: unbounded) }.
 */
function usageQuery(value) {
  const o = options('usage', value, USAGE_KEYS);
  const id = (name) => (o[name] === undefined || o[name] === null ? null : string(name, o[name]));
  const time = (name) => (o[name] === undefined || o[name] === null ? 0 : integer(name, o[name], 0));
  return {
    tenantId: id('tenantId'), userId: id('userId'), workspaceId: id('workspaceId'), runId: id('runId'),
    sinceUs: time('sinceUs'), untilUs: time('untilUs'),
  };
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
  // 'once': this request alone (the default); 'run': also the same request for the rest of the run.
  const scope = oneOf('scope', o.scope ?? 'once', ['once', 'run']);
  const reason = o.reason === undefined ? '' : string('reason', o.reason);
  const by = o.by === undefined ? '' : nonEmptyString('by', o.by);
  return { runId: o.runId, approvalId, allow: o.decision === 'allow', scope, reason, by };
}

/** What a secret value is, by its type alone: a message about a secret never quotes it. */
function kindOf(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'a non-plain object' : `a ${typeof value}`;
}

/** A string option that must be given: a TypeError saying it is missing, or naming its type. */
function required(call, name, value) {
  if (value === undefined) throw new TypeError(`${call} needs ${name}`);
  return string(name, value);
}

const GRANT_KEYS = ['connector', 'userId', 'tenantId', 'code', 'secret', 'scopes', 'expiresInSeconds', 'metadata'];

/**
 * addGrant's input checked, as the addon takes it: { tenantId ('' for the view's), userId,
 * connector, code, secretJson (null unless given), scopes, expiresInSeconds (null: never),
 * metadataJson ('' for none) }. `invalid(field, problem)` makes the core's error for a value the
 * core would refuse anyway (so that the field is named the same way). The secret is never quoted.
 */
function grantInput(value, invalid) {
  if (value === undefined) throw new TypeError(`addGrant takes a grant: { ${GRANT_KEYS.join(', ')} }`);
  const o = options('addGrant', value, GRANT_KEYS);
  if ((o.code === undefined) === (o.secret === undefined)) {
    throw new TypeError('addGrant takes one of code (an authorization code the connector exchanges) or secret (the secret ' +
      `material, or a token), ${o.code === undefined ? 'and got neither' : 'not both'}`);
  }
  let secretJson = null;
  if (typeof o.secret === 'string') {
    if (o.secret === '') throw invalid('secret', 'is an empty token');
    secretJson = JSON.stringify({ access_token: o.secret });
  } else if (o.secret !== undefined) {
    if (!isPlainObject(o.secret)) throw new TypeError(`secret must be an object (the secret material) or a string (a token), not ${kindOf(o.secret)}`);
    jsonValue(o.secret, 'secret', new Set(), (where) => invalid('secret', `holds a value JSON cannot represent (at ${where})`));
    secretJson = JSON.stringify(o.secret);
  }
  let metadataJson = '';
  if (o.metadata !== undefined) {
    if (!isPlainObject(o.metadata)) throw typeError('metadata', 'an object', o.metadata);
    jsonValue(o.metadata, 'metadata', new Set(), (where, problem) => invalid('metadata', `holds a value JSON cannot represent (${where} ${problem})`));
    metadataJson = JSON.stringify(o.metadata);
  }
  let expiresInSeconds = null;
  if (o.expiresInSeconds !== undefined) {
    if (typeof o.expiresInSeconds !== 'number') throw typeError('expiresInSeconds', 'a number of seconds', o.expiresInSeconds);
    if (!Number.isFinite(o.expiresInSeconds)) throw invalid('expiresIn', `must be a finite number of seconds, not ${o.expiresInSeconds}`);
    // Whole seconds, rounded up; the core judges the range (> 0, at most a century).
    expiresInSeconds = Math.max(-1, Math.min(Math.ceil(o.expiresInSeconds), Number.MAX_SAFE_INTEGER));
  }
  return {
    tenantId: o.tenantId === undefined ? '' : string('tenantId', o.tenantId),
    userId: required('addGrant', 'userId', o.userId),
    connector: required('addGrant', 'connector', o.connector),
    code: o.code === undefined ? null : string('code', o.code),
    secretJson,
    scopes: o.scopes === undefined ? [] : list('scopes', o.scopes, string),
    expiresInSeconds,
    metadataJson,
  };
}

module.exports = {
  approvalAnswer, deprecatedPositionalApproval, grantInput, usageQuery,
  describe, string, nonEmptyString, boolean, integer, options, oneOf, signal, hostOptions, dispatchJson,
  runId: (v) => nonEmptyString('runId', v),
  after: (v) => integer('after', v, 0),
};
