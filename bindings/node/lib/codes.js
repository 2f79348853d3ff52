'use strict';
// The error classes of this build's codes (errors.build over the addon's table), shared by the
// modules that turn native errors and run.failed events into them, and call(), which does it
// for every addon promise.
const native = require('./native');
const { build } = require('./errors');

const codes = build(native.errorCodes);

/** Awaits an addon promise; its rejection becomes the RunhostError (or HostClosedError) it stands for. */
async function call(promise) {
  try {
    return await promise;
  } catch (e) {
    throw codes.fromNative(e);
  }
}

module.exports = { ...codes, call };
