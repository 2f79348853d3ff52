'use strict';
// Argument checks at the API's edge, so a mistake is reported where it was made: a wrong type is
// a TypeError naming the argument, a value out of range a RangeError, and a dispatch holding a
// value JSON cannot carry an InvalidDispatchError naming the field (as the core names its own).
const path = require('node:path');
const { fileURLToPath } = require('node:url');

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return value.constructor?.name ? `a ${value.constructor.name}` : 'an object';
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

function options(name, value) {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw typeError(name, 'an object', value);
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
  maxOutputBytes: (name, v) => integer(name, v, 1),
  artifactPatterns: (name, v) => list(name, v, nonEmptyString),
};

function hostOptions(value) {
  const given = options('Host options', value);
  const out = {};
  for (const [key, v] of Object.entries(given)) {
    const check = HOST_OPTIONS[key];
    if (!check) throw new TypeError(`unknown Host option ${JSON.stringify(key)} (the options: ${Object.keys(HOST_OPTIONS).join(', ')})`);
    if (v !== undefined) out[key] = check(key, v);
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

module.exports = {
  describe, string, nonEmptyString, boolean, integer, options, signal, hostOptions, dispatchJson,
  runId: (v) => nonEmptyString('runId', v),
  after: (v) => integer('after', v, 0),
};
