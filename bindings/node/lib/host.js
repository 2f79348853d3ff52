'use strict';
// Host: the runhost host embedded in this process — its store, its plugins, one reactor thread
// for every run. Every call returns a Promise and runs on libuv's worker pool (src/addon.cpp).
const native = require('./native');
const { HostClosedError } = require('./errors');
const { byCode, call } = require('./codes');
const { Run } = require('./run');
const check = require('./validate');

// The core's invalid_dispatch for a field it would refuse too, made here for a value the addon
// cannot carry (what: 'dispatch' or 'grant', as the core words it).
function invalid(what) {
  return (field, problem) => {
    const cls = byCode.get('invalid_dispatch');
    return new cls(`invalid ${what}: "${field}" ${problem}`, { recovery: { action: 'fix_dispatch', field } });
  };
}
const invalidDispatch = invalid('dispatch');
const invalidGrant = invalid('grant');

// The addon's grant record as the API gives it: times not set are null, the metadata an object.
function grantOf({ expiresUs, revokedUs, metadataJson, ...grant }) {
  return { ...grant, expiresUs: expiresUs || null, revokedUs: revokedUs || null, metadata: JSON.parse(metadataJson || '{}') };
}

// The calls that read and steer runs, and keep connector grants, as one acting scope sees them:
// the operator's (the Host, every tenant) or one tenant's (a TenantView). Each passes `_scope` (a
// tenant id, or null) to the addon as its last argument; the runs they return act in the same scope.
class RunCalls {
  constructor(scope) {
    this._scope = scope;
  }

  /**
   * Validates and records a DevicePromptDispatch and starts it (the same idempotencyKey again
   * gives the same run, `created: false`). `signal`, when it aborts, cancels the run. In a
   * tenant's view tenantId may be left out (it is the view's); naming another is refused.
   */
  async dispatch(request, options) {
    const { signal } = check.options('dispatch', options, ['signal']);
    check.signal('signal', signal)?.throwIfAborted();
    const json = check.dispatchJson(request, invalidDispatch);
    const r = await call((await this._use()).dispatch(json, this._scope));
    const run = new Run(this, r.run, r.created);
    if (signal) this._cancelOnAbort(run, signal);
    return run;
  }

  // Cancels `run` when `signal` aborts; the listener goes when the run ends (a watcher that does
  // not keep the process alive tells), so a long-lived signal does not collect listeners.
  _cancelOnAbort(run, signal) {
    const onAbort = () => { this.cancel(run.id).catch(() => {}); };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const done = () => signal.removeEventListener('abort', onAbort);
    this._use()
      .then((core) => core.watch(run.id, (seen, ended) => { if (ended) done(); }, this._scope))
      .then((watcher) => {
        if (watcher === null) return done();
        watcher.unref();
        run._endWatcher = watcher;  // alive as long as the run object
      })
      .catch(done);
  }

  /** Cancels a run: this host's at once, another live host's through the store. */
  async cancel(runId) {
    check.runId(runId);
    await call((await this._use()).cancel(runId, this._scope));
  }

  /**
   * Answers a run's pending approval.required, from any process sharing the store:
   * `{ runId, approvalId, decision: 'allow' | 'deny', scope: 'once' | 'run', reason, by }`;
   * `requestId` is a synonym of `approvalId`, `by` names who answers. The answer is recorded at once and the
   * run's host applies it. InvalidDispatchError when the run has no such pending approval (unknown,
   * answered already, or the run has ended). The positional (runId, approvalId, allow, reason) is
   * deprecated.
   */
  async resolveApproval(answer, ...positional) {
    let a;
    if (typeof answer === 'string' || positional.length > 0) {
      check.deprecatedPositionalApproval('host.resolveApproval');
      const [approvalId, allow, reason = ''] = positional;
      a = {
        runId: check.runId(answer), approvalId: check.nonEmptyString('approvalId', approvalId), allow: check.boolean('allow', allow),
        scope: 'once', reason: check.string('reason', reason), by: '',
      };
    } else {
      a = check.approvalAnswer('resolveApproval', answer, { withRunId: true });
    }
    await call((await this._use()).answerApproval(a.runId, a.approvalId, a.allow, a.scope, a.reason, a.by, this._scope));
  }

  /**
   * The approval.required requests waiting for an answer, oldest first, from every process
   * sharing the store (in a tenant's view: the tenant's only): each with its run, its request
   * (the event's payload: action and summary, reason, policy, options, deadline) and whether an
   * answer is recorded already (`answered`: the run's host is applying it).
   */
  async pendingApprovals() {
    const rows = await call((await this._use()).pendingApprovals(this._scope));
    // The core's deadline 0 means none: null, as JS says "not set".
    return rows.map(({ requestJson, deadlineUs, ...row }) => ({ ...row, request: JSON.parse(requestJson), deadlineUs: deadlineUs || null }));
  }

  /**
   * Records a connector grant: `userId` of `tenantId` lets `connector` act for them; runs naming
   * the connector get the newest active grant of their tenant and user. One of `code` (an
   * authorization code the connector exchanges with its provider now) or `secret` (the secret
   * material, an object such as { access_token }, or a token string, which stands for
   * { access_token: token }). The secret is stored apart, joins the host's redaction and is never
   * returned, listed or put in a message. In a TenantView tenantId may be left out.
   * InvalidDispatchError naming a bad field; ConnectorAuthorizationMissingError when the
   * provider refused the code; PluginErrorError when the connector failed otherwise.
   */
  async addGrant(grant) {
    const g = check.grantInput(grant, invalidGrant);
    const core = await this._use();
    return grantOf(await call(core.addGrant(g.tenantId, g.userId, g.connector, g.code, g.secretJson, g.scopes,
      g.expiresInSeconds, g.metadataJson, this._scope)));
  }

  /**
   * Grants, newest first: the active ones, or with `all` the revoked and expired ones too;
   * optionally of one user, connector, tenant. Never a secret. A TenantView lists its tenant's only.
   */
  async grants(filter) {
    const { userId = null, connector = null, tenantId = null, all = false, limit = 100 } =
      check.options('grants', filter, ['userId', 'connector', 'tenantId', 'all', 'limit']);
    for (const [name, value] of Object.entries({ userId, connector, tenantId })) {
      if (value !== null) check.string(name, value);
    }
    check.boolean('all', all);
    check.integer('limit', limit, 1);
    const rows = await call((await this._use()).grants(tenantId, userId, connector, all, limit, this._scope));
    return rows.map(grantOf);
  }

  /**
   * Revokes a grant and deletes its secret: runs dispatched from now on no longer get it.
   * InvalidDispatchError (field grant_id) when there is no such grant (in a TenantView: none of
   * the tenant's). Revoking a revoked grant changes nothing.
   */
  async revokeGrant(grantId) {
    check.string('grantId', grantId);
    await call((await this._use()).revokeGrant(grantId, this._scope));
  }

  /**
   * What the usage events of every process sharing the store add up to, per usage source, most
   * spent first ({ source, costUsd, inputTokens, outputTokens, cachedInputTokens, events }): the
   * spend budgets count. Every filter given must hold: userId, workspaceId, runId, tenantId,
   * sinceUs / untilUs (microseconds since the epoch, as Date.now() * 1000; 0: unbounded). A TenantView adds
   * up its tenant's only (another tenant's run or tenant gives []).
   */
  async usage(filter) {
    const q = check.usageQuery(filter);
    return call((await this._use()).usage(q.tenantId, q.userId, q.workspaceId, q.runId, q.sinceUs, q.untilUs, this._scope));
  }

  async _info(runId) {
    check.runId(runId);
    return call((await this._use()).run(runId, this._scope));
  }

  /**
   * Any run of the store (this host's, another process's, one from before a restart), or null
   * when there is none (in a tenant's view: none of that tenant's).
   */
  async run(runId) {
    const info = await this._info(runId);
    return info ? new Run(this, info, false) : null;
  }

  /** Run records, newest first; in a tenant's view only that tenant's. */
  async runs(filter) {
    const { tenantId = null, status = null, limit = 100 } = check.options('runs', filter, ['tenantId', 'status', 'limit']);
    if (tenantId !== null) check.nonEmptyString('tenantId', tenantId);
    if (status !== null) check.nonEmptyString('status', status);
    check.integer('limit', limit, 1);
    return call((await this._use()).runs(tenantId, status, limit, this._scope));
  }

  /** Stored events of a run with seq > after (at most `limit`), without waiting. */
  async events(runId, options) {
    const { after = 0, limit = 10000 } = check.options('events', options, ['after', 'limit']);
    check.runId(runId);
    check.after(after);
    check.integer('limit', limit, 1);
    return JSON.parse(await call((await this._use()).events(runId, after, limit, this._scope)));
  }
}

class Host extends RunCalls {
  /**
   * Opens a host: the store (created if missing; runs a dead host left running become failed
   * with device_lost) and the plugins. Opening happens on a worker thread: `await host.ready`
   * (or `await Host.open(options)`) to see its errors at once — StoreUnavailableError,
   * PluginError — or let the first call reject with them.
   * @param {import('./index').HostOptions} [options]
   */
  constructor(options) {
    super(null);
    const o = check.hostOptions(options);
    this._options = o;
    this._native = new native.NativeHost();
    this._closing = null;
    this._ready = call(this._native.open(o));
    this._ready.catch(() => {});  // reported by `ready` and by every call, never as unhandled
  }

  /** `new Host(options)`, resolved once it is open (rejects with the open's error). */
  static async open(options) {
    const host = new Host(options);
    await host.ready;
    return host;
  }

  /** Resolves once the host is open; rejects with why it could not open. */
  get ready() { return this._ready; }
  /** The store file. */
  get storePath() { return this._options.store ?? native.defaultStorePath; }
  /** True once close() was called. */
  get closed() { return this._closing !== null; }

  async _use() {
    if (this._closing) throw new HostClosedError();
    await this._ready;
    if (this._closing) throw new HostClosedError();
    return this._native;
  }

  /**
   * This host as one tenant sees it: the same calls, walled to that tenant's runs. Another
   * tenant's run is indistinguishable from a missing one (run() gives null; events, cancel,
   * resolveApproval and a run's events reject with RunNotFoundError, as for an unknown id;
   * runs() and pendingApprovals() never list it), and a dispatch naming another tenant is
   * InvalidDispatchError (field tenantId). Grants are walled alike: grants() lists the tenant's,
   * and another tenant's grant is not found by revokeGrant (InvalidDispatchError, field
   * grant_id). Cheap: make one per request. The Host itself is the operator's view.
   */
  forTenant(tenantId) {
    return new TenantView(this, check.nonEmptyString('tenantId', tenantId));
  }

  /** The plugins loaded (search order), those refused with the reason, the directories searched. */
  async plugins() {
    return call((await this._use()).plugins());
  }

  /**
   * Cancels this host's running runs, stores their last events and closes the store. Every
   * later call rejects with HostClosedError. Idempotent.
   */
  close() {
    if (!this._closing) {
      this._closing = this._ready.catch(() => {}).then(() => call(this._native.close()));
    }
    return this._closing;
  }
}

/**
 * A Host as one tenant sees it (host.forTenant(tenantId)): dispatch, run, runs, events, cancel,
 * pendingApprovals, resolveApproval, addGrant, grants, revokeGrant, and the runs they return, all
 * walled to the tenant. It owns nothing: closing the Host ends it, and it has no close(), no
 * plugins() and no way back to the Host.
 */
class TenantView extends RunCalls {
  constructor(host, tenantId) {
    super(tenantId);
    this._host = host;
  }

  /** The tenant this view acts as. */
  get tenantId() { return this._scope; }
  /** True once the Host was closed. */
  get closed() { return this._host.closed; }
  get _closing() { return this._host._closing; }
  _use() { return this._host._use(); }
}

if (typeof Symbol.asyncDispose === 'symbol') {
  // `await using host = new Host()` closes it at the end of the block.
  Host.prototype[Symbol.asyncDispose] = function asyncDispose() { return this.close(); };
}

module.exports = { Host, TenantView };
