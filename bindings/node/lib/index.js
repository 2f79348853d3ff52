'use strict';
// The runhost package: Host, Run, EventStream and the errors. See docs/node.md.
const native = require('./native');
const errors = require('./errors');
const { classes, fromEvent } = require('./codes');
const { Host, TenantView } = require('./host');
const { Run } = require('./run');
const { EventStream } = require('./stream');

module.exports = {
  Host,
  TenantView,
  Run,
  EventStream,
  RunhostError: errors.RunhostError,
  HostClosedError: errors.HostClosedError,
  StreamConsumedError: errors.StreamConsumedError,
  EventHandlerError: errors.EventHandlerError,
  ...classes,
  /** The error a run.failed (or run.cancelled) event stands for; null for any other event. */
  errorFromEvent: fromEvent,
  errorCodes: Object.freeze(
    native.errorCodes.map(([code, retryable, recoveryAction]) => Object.freeze({ code, retryable, recoveryAction }))),
  defaultStorePath: native.defaultStorePath,
};
