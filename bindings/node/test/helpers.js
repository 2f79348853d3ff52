'use strict';
// Shared by the tests: a Host on a fresh store and workspace, and dispatches for the custom runtime.
// The store lives outside the workspace, so its own writes never show up as file.changed.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
let keys = 0;

function tempDirs() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runhost-node-'));
  const workspace = path.join(root, 'ws');
  fs.mkdirSync(workspace);
  return { root, store: path.join(root, 'runhost.db'), workspace, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

function customDispatch(command, fields = {}) {
  return {
    tenantId: 't1',
    workspaceId: 'w1',
    userId: 'u1',
    deviceType: 'local',
    deviceId: 'node-test',
    runtime: 'custom',
    prompt: 'test',
    approvalPolicy: 'auto',
    idempotencyKey: `key-${process.pid}-${++keys}`,
    command,
    ...fields,
  };
}

module.exports = { REPO, tempDirs, customDispatch };
