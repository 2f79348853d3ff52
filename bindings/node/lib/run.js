'use strict';
// Run: one run of a Host — its record at dispatch, its events (as an async iterable or as
// 'event' emissions), waiting for its end, cancel, approvals.
const { EventEmitter } = require('node:events');
const { EventHandlerError } = require('./errors');
const { fromEvent } = require('./codes');
const { EventStream } = require('./stream');
const check = require('./validate');

class Run extends EventEmitter {
  /** Made by host.dispatch() and host.run() (of a Host or a TenantView: the run acts in its scope). */
  constructor(host, info, created) {
    super();
    this._host = host;
    this._pumping = false;
    Object.defineProperties(this, {
      id: { value: info.id, enumerable: true },
      info: { value: info, enumerable: true },
      created: { value: created, enumerable: true },
    });
    // The first 'event' listener starts delivery: every event from seq 1, then 'end'.
    this.on('newListener', (name) => {
      if (name === 'event' && !this._pumping) {
        this._pumping = true;
        queueMicrotask(() => this._pump());
      }
    });
  }

  get host() { return this._host; }

  /**
   * The run's events with seq > after: stored, then live, ending after the terminal event.
   * `signal` ends the iteration: the pending (or next) step rejects with the signal's reason (an
   * AbortError unless abort() was given another), as fetch() does; the run goes on.
   */
  events(options) {
    const { after = 0, signal } = check.options('events', options, ['after', 'signal']);
    return new EventStream(this._host, this.id, after, check.signal('signal', signal));
  }

  async _pump() {
    let last = null;
    try {
      for await (const ev of this.events()) {
        last = ev;
        this._deliver(ev);
      }
    } catch (e) {
      this._report(e);
      return;
    }
    this.emit('end', last);
  }

  // Calls each 'event' listener in turn. One that throws (or whose promise rejects) is reported
  // and the others, the later events and the run all go on.
  _deliver(ev) {
    for (const listener of this.rawListeners('event')) {
      try {
        const r = listener.call(this, ev);
        if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
          r.then(undefined, (e) => this._report(new EventHandlerError(e, ev)));
        }
      } catch (e) {
        this._report(new EventHandlerError(e, ev));
      }
    }
  }

  // 'error' if someone listens (an 'error' emitted to nobody would throw); a warning otherwise.
  _report(error) {
    if (this.listenerCount('error') > 0) {
      try {
        this.emit('error', error);
        return;
      } catch (e) {
        error = e;  // the 'error' listener threw: warn about that instead
      }
    }
    process.emitWarning(error instanceof Error ? error : new Error(String(error)));
  }

  /**
   * Waits for the run's end and resolves with its final record. With `check`, a run that failed
   * rejects with the RunhostError subclass of its code (carrying the event's retryable and
   * recovery), and a cancelled one with CancelledError. `signal` stops waiting (the run goes on).
   */
  async wait(options) {
    const { check: checkFailure = false, signal } = check.options('wait', options, ['check', 'signal']);
    check.boolean('check', checkFailure);
    check.signal('signal', signal)?.throwIfAborted();
    const info = await this.refresh();
    let last = null;
    for await (const ev of this.events({ after: Math.max(0, (info?.lastSeq ?? 0) - 1), signal })) last = ev;
    const final = await this.refresh();
    if (checkFailure) {
      const error = fromEvent(last);
      if (error) throw error;
    }
    return final;
  }

  /** Cancels the run (a finished run is left as it is). */
  cancel() { return this._host.cancel(this.id); }
  /**
   * Answers an approval.required of this run: `{ approvalId, decision: 'allow' | 'deny', scope:
   * 'once' | 'run', reason, by }` (`requestId` is a synonym of `approvalId`; `by` names who
   * answers). The positional (approvalId, allow, reason) is deprecated.
   */
  async resolveApproval(answer, ...positional) {
    if (typeof answer === 'string' || positional.length > 0) {
      check.deprecatedPositionalApproval('run.resolveApproval');
      const [allow, reason = ''] = positional;
      check.nonEmptyString('approvalId', answer);
      check.boolean('allow', allow);
      return this._host.resolveApproval({ runId: this.id, approvalId: answer, decision: allow ? 'allow' : 'deny', reason: check.string('reason', reason) });
    }
    const a = check.approvalAnswer('resolveApproval', answer, { withRunId: false });
    return this._host.resolveApproval({
      runId: this.id, approvalId: a.approvalId, decision: a.allow ? 'allow' : 'deny', scope: a.scope, reason: a.reason, by: a.by || undefined,
    });
  }
  /** The run's record as stored now (status, lastSeq, errorCode...). */
  refresh() { return this._host._info(this.id); }
}

module.exports = { Run };
