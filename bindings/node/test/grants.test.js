'use strict';
// Connector grants from Node: the bundled oauth2 connector against a token endpoint on loopback
// (token-server.js). A run naming the connector without a grant fails with
// connector_authorization_missing and the connect URL; addGrant({ code }) has the code
// exchanged; the same dispatch retried runs with the token in its environment; grants() lists
// what is stored and never a secret; revoking, expiring and another tenant's view; the errors,
// typed, and never quoting the secret.
const test = require('node:test');
const assert = require('node:assert/strict');
const { inspect } = require('node:util');
const { setTimeout: sleep } = require('node:timers/promises');
const { ConnectorAuthorizationMissingError, InvalidDispatchError, PluginErrorError } = require('..');
const { env, sh, collect, checkStream } = require('./helpers');
const { tokenServer } = require('./token-server');

const TOKEN = 'tok-Js7Hc9Qx2mWv-access';
const CLIENT_SECRET = 'cs-Js8vZ2-client-secret';
const CODE = 'code-JsRj3pLw5';
// The runtime prints its token's length, never the token (a secret in argv is refused anyway).
const PRINT_LENGTH = 'echo "token of ${#TOKEN} characters"';

/** A Host with oauth2 pointed at a fresh token server, both closed after the test. */
async function setup(t) {
  const server = await tokenServer();
  t.after(() => server.close());
  const host = env(t).host({
    pluginConfig: {
      oauth2: {
        authorize_url: server.url('/authorize'), token_url: server.url('/token'), client_id: 'runhost-test',
        client_secret: CLIENT_SECRET, scopes: ['repo', 'read'], env_name: 'TOKEN',
      },
    },
  });
  await host.ready;
  return { host, server };
}

const tokenAnswer = (expiresIn = 3600) => ({ access_token: TOKEN, token_type: 'bearer', expires_in: expiresIn, scope: 'repo read' });
const dispatch = (calls, fields = {}) => calls.dispatch(sh(PRINT_LENGTH, { connectors: ['oauth2'], ...fields }));

async function output(host, run) {
  return (await host.events(run.id)).filter((e) => e.type === 'command.output').map((e) => e.payload.text);
}

async function expectConnectAgain(server, run, why, tenant = 't1') {
  await assert.rejects(run.wait({ check: true }), (err) => {
    assert.ok(err instanceof ConnectorAuthorizationMissingError, String(err));
    assert.ok(err.message.includes(why), err.message);
    assert.equal(err.action, 'connect_account');
    assert.equal(err.recovery.connector, 'oauth2');
    assert.equal(err.recovery.connect_url,
      `${server.url('/authorize')}?response_type=code&client_id=runhost-test&scope=repo%20read&state=${tenant}%3Au1`);
    return true;
  });
  assert.deepEqual((await collect(run.events())).map((e) => e.type), ['run.failed'], 'nothing ran without a grant');
}

function nothingSecretIn(value) {
  for (const text of [inspect(value, { depth: null, showHidden: true }), JSON.stringify(value) ?? '', String(value)]) {
    for (const secret of [TOKEN, CODE, CLIENT_SECRET]) assert.ok(!text.includes(secret), text);
  }
}

test('the connect loop: no grant, the code exchanged, the retry runs with the token, revoked asks again', async (t) => {
  const { host, server } = await setup(t);
  await expectConnectAgain(server, await dispatch(host), 'not authorised for user u1');

  server.answer(200, tokenAnswer());
  const grant = await host.addGrant({ connector: 'oauth2', userId: 'u1', tenantId: 't1', code: CODE, scopes: ['repo', 'read'] });
  const [request, ...more] = server.requests();
  assert.deepEqual(more, []);
  assert.deepEqual([request.method, request.path], ['POST', '/token']);
  assert.equal(new URLSearchParams(request.body).get('code'), CODE, 'the code went in the POST body');
  assert.deepEqual(Object.keys(grant).sort(), ['connector', 'createdUs', 'expiresUs', 'id', 'metadata', 'revokedUs', 'scopes', 'state', 'tenantId', 'userId']);
  assert.match(grant.id, /^grt_/);
  assert.deepEqual([grant.tenantId, grant.userId, grant.connector, grant.state], ['t1', 'u1', 'oauth2', 'active']);
  assert.deepEqual([grant.scopes, grant.revokedUs, grant.metadata], [['repo', 'read'], null, {}]);
  assert.ok(Math.abs((grant.expiresUs - grant.createdUs) / 1e6 - 3600) < 2, 'the provider\'s expires_in');
  nothingSecretIn(grant);

  const retried = await dispatch(host);  // the same dispatch, a new idempotency key
  assert.equal((await retried.wait({ check: true })).status, 'succeeded');
  assert.deepEqual(await output(host, retried), [`token of ${TOKEN.length} characters`]);
  const events = await host.events(retried.id);
  checkStream(events);
  nothingSecretIn(events);

  assert.deepEqual(await host.grants(), [grant]);
  assert.deepEqual(await host.grants({ userId: 'u1', connector: 'oauth2' }), [grant]);
  assert.deepEqual(await host.grants({ userId: 'u2' }), []);
  nothingSecretIn(await host.grants({ all: true }));

  await host.revokeGrant(grant.id);
  await expectConnectAgain(server, await dispatch(host), 'not authorised for user u1');
  assert.deepEqual(await host.grants(), []);
  const [revoked] = await host.grants({ all: true });
  assert.deepEqual([revoked.id, revoked.state], [grant.id, 'revoked']);
  assert.ok(revoked.revokedUs >= grant.createdUs);
  await host.revokeGrant(grant.id);  // revoking a revoked grant changes nothing
});

test('the secret path: a token string, or the material as an object', async (t) => {
  const { host, server } = await setup(t);
  const plain = await host.addGrant({ connector: 'oauth2', userId: 'u1', tenantId: 't1', secret: TOKEN, metadata: { login: 'ada' } });
  assert.deepEqual(server.requests(), [], 'a secret is not exchanged');
  assert.deepEqual([plain.expiresUs, plain.metadata], [null, { login: 'ada' }]);
  nothingSecretIn(plain);
  const run = await dispatch(host);
  assert.equal((await run.wait({ check: true })).status, 'succeeded');
  assert.deepEqual(await output(host, run), [`token of ${TOKEN.length} characters`]);

  const newer = await host.addGrant({
    connector: 'oauth2', userId: 'u1', tenantId: 't1', scopes: ['repo'],
    secret: { access_token: `${TOKEN}-longer`, refresh_token: `rt-${TOKEN}`, token_type: 'bearer' },
  });
  assert.deepEqual((await host.grants()).map((g) => g.id), [newer.id, plain.id], 'newest first');
  const again = await dispatch(host);
  assert.equal((await again.wait({ check: true })).status, 'succeeded');
  assert.deepEqual(await output(host, again), [`token of ${TOKEN.length + 7} characters`], 'the newest grant is the one used');
});

test('a static token that expires asks again', async (t) => {
  const { host, server } = await setup(t);
  const grant = await host.addGrant({ connector: 'oauth2', userId: 'u1', tenantId: 't1', secret: { access_token: TOKEN }, expiresInSeconds: 1 });
  assert.equal(grant.expiresUs - grant.createdUs, 1e6);
  await sleep(Math.max(0, grant.expiresUs / 1000 - Date.now()) + 200);
  assert.deepEqual(await host.grants(), []);
  assert.deepEqual((await host.grants({ all: true })).map((g) => g.state), ['expired']);
  await expectConnectAgain(server, await dispatch(host), 'expired for user u1');
});

test('a refused code asks the user again, a failing endpoint is a plugin error, and nothing is stored', async (t) => {
  const { host, server } = await setup(t);
  server.answer(400, { error: 'invalid_grant' });
  await assert.rejects(host.addGrant({ connector: 'oauth2', userId: 'u1', tenantId: 't1', code: CODE }), (err) => {
    assert.ok(err instanceof ConnectorAuthorizationMissingError, String(err));
    assert.equal(err.action, 'connect_account');
    assert.match(err.message, /invalid_grant/);
    nothingSecretIn(err);
    return true;
  });
  server.answer(503, { error: 'temporarily_unavailable' });
  await assert.rejects(host.addGrant({ connector: 'oauth2', userId: 'u1', tenantId: 't1', code: CODE }),
    (err) => { nothingSecretIn(err); return err instanceof PluginErrorError; });
  assert.deepEqual(await host.grants({ all: true }), []);
});

test('another tenant\'s view neither sees nor revokes a grant', async (t) => {
  const { host, server } = await setup(t);
  const t1 = host.forTenant('t1');
  const grant = await t1.addGrant({ connector: 'oauth2', userId: 'u1', secret: TOKEN });  // tenantId: the view's
  assert.equal(grant.tenantId, 't1');
  assert.deepEqual(await t1.grants(), [grant]);
  const other = host.forTenant('t2');
  assert.deepEqual(await other.grants(), []);
  assert.deepEqual(await other.grants({ tenantId: 't1', all: true }), []);
  const refusal = async (call) => {
    try {
      await call;
    } catch (err) {
      assert.ok(err instanceof InvalidDispatchError, String(err));
      return err;
    }
    throw new Error('not refused');
  };
  const theirs = await refusal(other.revokeGrant(grant.id));
  const unknown = await refusal(other.revokeGrant('grt_nope'));
  assert.deepEqual([theirs.field, unknown.field], ['grant_id', 'grant_id']);
  assert.equal(theirs.message.replace(grant.id, '<id>'), unknown.message.replace('grt_nope', '<id>'));
  assert.equal((await refusal(other.addGrant({ connector: 'oauth2', userId: 'u1', tenantId: 't1', secret: TOKEN }))).field, 'tenantId');
  assert.equal((await refusal(host.addGrant({ connector: 'oauth2', userId: 'u1', secret: TOKEN }))).field, 'tenantId',
    'the operator names the tenant');
  assert.deepEqual(await host.grants(), [grant], 'the grant is untouched');
  assert.equal((await (await dispatch(t1)).wait({ check: true })).status, 'succeeded');
  await expectConnectAgain(server, await dispatch(other, { tenantId: 't2' }), 'not authorised for user u1', 't2');
});

test('a misused addGrant is a TypeError naming what is wrong, never quoting the secret', async (t) => {
  const { host } = await setup(t);
  const base = { connector: 'oauth2', userId: 'u1', tenantId: 't1' };
  for (const [grant, expected] of [
    [undefined, /^addGrant takes a grant: \{ connector, userId, tenantId, code, secret, scopes, expiresInSeconds, metadata \}$/],
    [base, /one of code \(.*\) or secret \(.*\), and got neither$/],
    [{ ...base, code: CODE, secret: TOKEN }, /one of code \(.*\) or secret \(.*\), not both$/],
    [{ ...base, secret: 42 }, /^secret must be an object \(the secret material\) or a string \(a token\), not a number$/],
    [{ ...base, secret: [TOKEN] }, /^secret must be an object .*, not an array$/],
    [{ ...base, secret: new Map([['access_token', TOKEN]]) }, /^secret must be an object .*, not a non-plain object$/],
    [{ ...base, secret: TOKEN, scopes: 'repo' }, /^scopes must be an array/],
    [{ ...base, secret: TOKEN, expiresInSeconds: '1h' }, /^expiresInSeconds must be a number of seconds/],
    [{ ...base, secret: TOKEN, metadata: [1] }, /^metadata must be an object, not an array$/],
    [{ connector: 'oauth2', secret: TOKEN }, /^addGrant needs userId$/],
    [{ ...base, userId: 7, secret: TOKEN }, /^userId must be a string, not number 7$/],
    [{ ...base, secret: TOKEN, tokenn: 1 }, /^unknown addGrant option "tokenn"/],
  ]) {
    await assert.rejects(host.addGrant(grant), (err) => {
      assert.ok(err instanceof TypeError && expected.test(err.message), `${inspect(grant)}: ${err}`);
      nothingSecretIn(err);
      return true;
    });
  }
  await assert.rejects(host.revokeGrant(7), /^TypeError: grantId must be a string/);
  await assert.rejects(host.grants({ includeRevoked: true }), /^TypeError: unknown grants option "includeRevoked"/);
  await assert.rejects(host.grants({ limit: 0 }), RangeError);
});

test('a bad field is an InvalidDispatchError naming it, never quoting the secret, and stores nothing', async (t) => {
  const { host } = await setup(t);
  const base = { connector: 'oauth2', userId: 'u1', tenantId: 't1' };
  const circular = { access_token: TOKEN };
  circular.self = circular;
  for (const [grant, field] of [
    [{ ...base, connector: 'github', secret: TOKEN }, 'connector'],
    [{ ...base, userId: '', secret: TOKEN }, 'userId'],
    [{ ...base, code: '' }, 'code'],
    [{ ...base, secret: '' }, 'secret'],
    [{ ...base, secret: {} }, 'secret'],
    [{ ...base, secret: { access_token: TOKEN, n: NaN } }, 'secret'],
    [{ ...base, secret: { access_token: TOKEN, n: 10n } }, 'secret'],
    [{ ...base, secret: circular }, 'secret'],
    [{ ...base, secret: TOKEN, scopes: ['repo', ''] }, 'scopes'],
    [{ ...base, secret: TOKEN, expiresInSeconds: 0 }, 'expiresIn'],
    [{ ...base, secret: TOKEN, expiresInSeconds: Infinity }, 'expiresIn'],
    [{ ...base, secret: TOKEN, metadata: { when: new Date() } }, 'metadata'],
  ]) {
    await assert.rejects(host.addGrant(grant), (err) => {
      assert.ok(err instanceof InvalidDispatchError, `${field}: ${err}`);
      assert.equal(err.field, field, err.message);
      nothingSecretIn(err);
      return true;
    });
  }
  await assert.rejects(host.revokeGrant('grt_nope'), (err) => err instanceof InvalidDispatchError && err.field === 'grant_id');
  assert.deepEqual(await host.grants({ all: true }), []);
});
