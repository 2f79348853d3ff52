'use strict';
// EventStream: one reader of one run's events, from a cursor (a seq) to the terminal event.
//
// The store is the source of truth. The stream reads pages of stored events after its cursor
// (the addon's events(), on a libuv worker) and, once it has caught up, follows its Watcher:
// the addon's thread-safe function, which the host's reactor pokes with "an event newer than seq
// N exists" or "the run ended", and which keeps the envelopes committed since the stream last
// took them (at most 1 MiB; past that the stream reads those from the store). The event loop
// never blocks. The watcher keeps the process alive only while the stream waits (it is ref'd for
// the wait, unref'd otherwise), so an abandoned stream never holds Node up.
const { HostClosedError, StreamConsumedError } = require('./errors');
const { fromNative, call } = require('./codes');
const check = require('./validate');

const TERMINAL = new Set(['run.completed', 'run.failed', 'run.cancelled']);
// A page: at most this many events, and about this many bytes (the count adapts to the sizes).
const PAGE_EVENTS = 4096;
const PAGE_BYTES = 4 << 20;

class EventStream {
  /**
   * Made by run.events(); `host` is the Host or the TenantView the run came from (lib/host.js).
   * `signal` (an AbortSignal, or undefined) ends the stream: see _step.
   */
  constructor(host, runId, after = 0, signal = undefined) {
    this._host = host;
    this._runId = runId;
    this._cursor = check.after(after);
    this._start = this._cursor;
    this._core = null;          // the NativeHost, from the first read on
    this._page = [];
    this._next = 0;
    this._limit = 64;           // events per page read; adapts (see _read)
    this._watcher = undefined;  // made at the first wait; null: the run had ended
    this._seen = 0;             // newest seq the watcher reported
    this._caughtUp = false;     // a store read after the watcher existed found nothing newer
    this._runEnded = false;     // the watcher reported the end (or the run had ended)
    this._error = null;         // why the watcher's subscription ended, if not by the terminal event
    this._wake = null;          // resolves the wait in progress
    this._done = false;         // nothing more will be returned
    this._iterated = false;     // [Symbol.asyncIterator]() was called
    this._busy = false;         // a next() is in progress
    this._signal = signal;
    this._onAbort = null;       // the abort listener, while a loop reads the stream
  }

  /** The run's id. */
  get runId() { return this._runId; }
  /** The seq of the last event returned (the `after` to go on from). */
  get cursor() { return this._cursor; }
  /** True once the terminal event was returned or the stream was closed. */
  get ended() { return this._done; }

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
    if (this._onAbort) this._signal.removeEventListener('abort', this._onAbort);
    this._onAbort = null;
    this._page = [];
    this._next = 0;
    if (this._watcher) this._watcher.close();
    this._watcher = null;
    const wake = this._wake;
    this._wake = null;
    if (wake) wake();
  }

  // What the watcher kept since the last take, after the cursor; null when that is nothing or
  // does not follow on from the cursor (some were not kept: the store has them).
  _takeLive() {
    const live = this._watcher.take();
    if (live === null || live[0] > this._cursor + 1) return null;
    let page = JSON.parse(live[1]);
    if (live[0] <= this._cursor) page = page.filter((ev) => ev.seq > this._cursor);
    return page.length > 0 ? page : null;
  }

  async _read() {
    this._core ??= await this._host._use();
    const text = await call(this._core.events(this._runId, this._cursor, this._limit, this._host._scope));
    const page = JSON.parse(text);
    if (page.length > 0) {
      // Aim for PAGE_BYTES per page: big events (command output) make smaller pages.
      const perEvent = text.length / page.length;
      this._limit = Math.max(16, Math.min(PAGE_EVENTS, Math.floor(PAGE_BYTES / perEvent)));
    }
    return page;
  }

  async _wait() {
    if (this._watcher === undefined) {
      this._watcher = await call(this._core.watch(this._runId, (s, e, err) => this._onWake(s, e, err), this._host._scope));
      if (this._watcher === null) this._runEnded = true;
      else this._watcher.unref();  // ref'd only while waiting (below)
      return;  // read again: events may have come before the watcher existed
    }
    // Each of these may have happened while the page was read: then there is nothing to wait for.
    if (this._seen > this._cursor || this._runEnded || this._done || this._signal?.aborted) return;
    this._watcher.ref();
    try {
      await new Promise((resolve) => { this._wake = resolve; });
    } finally {
      this._watcher?.unref();
    }
  }

  // Aborting the signal ends the stream as fetch() and Node's own iterators do: the step in
  // progress (or the next one) rejects with signal.reason, and the stream is closed. A wait for a
  // live event is woken at once; a page read in progress (milliseconds) finishes first.
  async _step() {
    if (this._signal && !this._onAbort && !this._done) {
      this._onAbort = () => this._onWake(0, false, null);
      this._signal.addEventListener('abort', this._onAbort, { once: true });
    }
    for (;;) {
      if (!this._done) this._signal?.throwIfAborted();
      if (this._next < this._page.length) {
        const ev = this._page[this._next++];
        this._cursor = ev.seq;
        if (TERMINAL.has(ev.type)) this._finish();
        return { value: ev, done: false };
      }
      if (this._done) return { value: undefined, done: true };
      if (this._host._closing) throw new HostClosedError();
      if (this._watcher) {
        const live = this._takeLive();
        if (live) {
          this._page = live;
          this._next = 0;
          continue;
        }
        // Caught up with the store and with everything the watcher reported since: wait for more
        // without reading the store.
        if (this._caughtUp && !this._runEnded && this._seen <= this._cursor && !this._signal?.aborted) {
          await this._wait();
          continue;
        }
      }
      // Snapshot first: when the run had ended before this read, the read sees all there is.
      const ended = this._runEnded;
      const error = this._error;
      const watched = Boolean(this._watcher);
      const page = await this._read();
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
      if (watched) this._caughtUp = true;  // from here on the watcher reports every newer event
      await this._wait();
    }
  }

  /** The next event (stored, else the next live one); done after the terminal event. */
  async next() {
    if (this._busy) throw new Error('EventStream.next() was called while another call on the same stream is pending: one reader at a time (run.events() gives each reader its own stream)');
    this._busy = true;
    try {
      return await this._step();
    } catch (e) {
      this._finish();
      throw e;
    } finally {
      this._busy = false;
    }
  }

  /** Stops following the run (a `for await` that breaks calls it). The run goes on. */
  async return() {
    this._finish();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() {
    // A stream closed before anyone read it (a client gone before its loop began) iterates as
    // empty; one a loop has read is an error to loop over again, which would otherwise hide the
    // mistake by yielding nothing.
    if (this._iterated || (this._done && this._cursor > this._start)) {
      const why = this._done
        ? `it has ended or was closed at seq ${this._cursor}`
        : 'another loop is iterating it';
      throw new StreamConsumedError(`this EventStream of ${this._runId} cannot be iterated again: ${why}; ` +
        `run.events() gives a new stream that replays from the start, run.events({ after: ${this._cursor} }) goes on from here`);
    }
    this._iterated = true;
    return this;
  }
}

module.exports = { EventStream, TERMINAL };
