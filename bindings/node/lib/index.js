'use strict';
// The runhost package: Host, Run, EventStream, errors. See docs/node.md.
//
// Events are read from the store by cursor (host.events on a worker thread); a Watcher (the
// addon's thread-safe function) only says "something newer than seq N exists / the run ended".
// Nothing is buffered per event outside the page being consumed; the event loop never blocks.
const { EventEmitter } = require('node:events');
const native = require('./native');
const errors = require('./errors');

const { byCode, classes } = errors.build(native.errorCodes);
const fromNative = (e) => errors.fromNative(byCode, e);
const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);
const PAGE = 1024;

async function call(promise) {
  try {
    return await promise;
  } catch (e) {
    throw fromNative(e);
  }
}

function checkAfter(after) {
  if (!Number.isSafeInteger(after) || after < 0) throw new TypeError(`after must be a non-negative integer, not ${after}`);
  return after;
}

/** One reader of one run's events, from a cursor to the terminal event. An async iterable. */
class EventStream {
  constructor(host, runId, after = 0) {
    this._host = host;
    this._runId = runId;
    this._cursor = checkAfter(after);
    this._page = [];
    this._next = 0;
    this._watcher = undefined;  // created on the first read; null: the run had ended
    this._seen = 0;
    this._runEnded = false;
    this._error = null;
    this._wake = null;
    this._done = false;
  }

  get cursor() { return this._cursor; }

  _onWake(seen, ended, err) {
    if (seen > this._seen) this._seen = seen;
    if (ended) {
      this._runEnded = true;
      if (err) this._error = fromNative(err);
    }
    const wake = this._wake;
    this._wake = null;
    if (wake) wake();
  }

  _finish() {
    this._done = true;
    this._page = [];
    if (this._watcher) this._watcher.close();
    this._watcher = null;
    const wake = this._wake;
    this._wake = null;
    if (wake) wake();
  }

  async next() {
    for (;;) {
      if (this._next < this._page.length) {
        const ev = JSON.parse(this._page[this._next++]);
        this._cursor = ev.seq;
        if (TERMINAL.has(ev.type)) this._finish();
        return { value: ev, done: false };
      }
      if (this._done) return { value: undefined, done: true };
      if (this._watcher === undefined) {
        try {
          this._watcher = this._host._native().watch(this._runId, (s, e, err) => this._onWake(s, e, err));
        } catch (e) {
          this._finish();
          throw fromNative(e);
        }
        if (this._watcher === null) this._runEnded = true;
      }
      // Snapshot first: when the run had ended, this read sees everything there is.
      const ended = this._runEnded;
      const error = this._error;
      let page;
      try {
        page = await call(this._host._native().events(this._runId, this._cursor, PAGE));
      } catch (e) {
        this._finish();
        throw e;
      }
      if (this._done) continue;  // return() was called meanwhile
      if (page.length > 0) {
        this._page = page;
        this._next = 0;
        continue;
      }
      if (ended) {
        this._finish();
        if (error) throw error;
        continue;
      }
      if (this._seen > this._cursor || this._runEnded) continue;
      await new Promise((resolve) => { this._wake = resolve; });
    }
  }

  async return() {
    this._finish();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() { return this; }
}

/** A run: its info at dispatch, its events, cancel. Emits 'event', 'end' and 'error' once listened to. */
class Run extends EventEmitter {
  constructor(host, info, created) {
    super();
    this._host = host;
    this.id = info.id;
    this.info = info;
    this.created = created;
    this._pumping = false;
    this.on('newListener', (name) => {
      if (name === 'event' && !this._pumping) {
        this._pumping = true;
        queueMicrotask(() => this._pump());
      }
    });
  }

  async _pump() {
    try {
      for await (const ev of this.events()) this.emit('event', ev);
      this.emit('end');
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e);
    }
  }

  /** The run's events with seq > after, stored then live, ending after the terminal event. */
  events({ after = 0 } = {}) { return new EventStream(this._host, this.id, after); }
  cancel() { return this._host.cancel(this.id); }
  resolveApproval(approvalId, allow, reason = '') { return this._host.resolveApproval(this.id, approvalId, allow, reason); }
  /** The run's current info (status, lastSeq...). */
  refresh() { return this._host.run(this.id); }
}

class Host {
  /**
   * @param {object} [options] store (default: the XDG data dir), pluginPaths, useEnvironment,
   *   useBundled, workspaceRoot, pluginConfig, defaultTimeoutSeconds, durable, keepRaw,
   *   maxOutputBytes, artifactPatterns.
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    const o = { ...options };
    if (o.store !== undefined && typeof o.store !== 'string') throw new TypeError('store must be a string');
    if (o.pluginPaths !== undefined && (!Array.isArray(o.pluginPaths) || o.pluginPaths.some((p) => typeof p !== 'string'))) {
      throw new TypeError('pluginPaths must be an array of strings');
    }
    if (o.pluginConfig !== undefined) {
      o.pluginConfig = Object.fromEntries(Object.entries(o.pluginConfig).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    }
    try {
      this._core = new native.NativeHost(o);
    } catch (e) {
      throw fromNative(e);
    }
    this._closed = null;
  }

  _native() {
    if (this._closed) throw new errors.HostClosedError();
    return this._core;
  }

  /** Validates and records a DevicePromptDispatch and starts it. `signal` aborts (cancels) the run. */
  async dispatch(request, { signal } = {}) {
    if (request === null || typeof request !== 'object') throw new TypeError('dispatch takes a DevicePromptDispatch object');
    if (signal?.aborted) throw signal.reason;
    const r = await call(this._native().dispatch(JSON.stringify(request)));
    const run = new Run(this, r.run, r.created);
    if (signal) {
      const onAbort = () => { this.cancel(run.id).catch(() => {}); };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    return run;
  }

  async cancel(runId) { return call(this._native().cancel(runId)); }
  async resolveApproval(runId, approvalId, allow, reason = '') {
    return call(this._native().resolveApproval(runId, approvalId, !!allow, reason));
  }
  async run(runId) { return call(this._native().run(runId)); }
  async runs({ tenantId = null, status = null, limit = 100 } = {}) {
    return call(this._native().runs(tenantId, status, limit));
  }
  /** Stored events with seq > after, without waiting (at most `limit`). */
  async events(runId, { after = 0, limit = 10000 } = {}) {
    const page = await call(this._native().events(runId, checkAfter(after), limit));
    return page.map((s) => JSON.parse(s));
  }
  /** A live EventStream of any run of the store (e.g. after a restart). */
  stream(runId, { after = 0 } = {}) { return new EventStream(this, runId, after); }
  get storePath() { return this._native().storePath(); }

  /** Cancels this host's running runs, stores their last events and closes the store. Idempotent. */
  close() {
    if (!this._closed) this._closed = call(this._core.close());
    return this._closed;
  }
}

module.exports = {
  Host, Run, EventStream,
  RunhostError: errors.RunhostError, HostClosedError: errors.HostClosedError,
  ...classes,
  errorCodes: native.errorCodes.map(([code, retryable]) => ({ code, retryable })),
  defaultStorePath: native.defaultStorePath,
};
