'use strict';
// The error classes of this build's codes (errors.build over the addon's table), shared by the
// modules that turn native errors and run.failed events into them.
const native = require('./native');
const { build } = require('./errors');

module.exports = build(native.errorCodes);
