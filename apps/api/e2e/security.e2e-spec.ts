import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { adminAuthHeaders, gatewayRequest, pollUntil, readStack, type StackInfo } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * Access scoped by key prefix, operations and Idempotency-Keys that belong to their user, the token and account
 * lifecycle, and what the gateways believe of a TLS-terminating balancer in front: end to end through the stack's
 * gateways and both APIs (issue 16).
 */
let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const PASSWORD = `pw-${randomUUID()}`;
const admin = () => adminAuthHeaders(stack);

type Headers = Record<string, string>;

function call(
  method: string,
  path: string,
  { body, headers = {}, base }: { body?: unknown; headers?: Headers; base?: string } = {},
) {
  return gatewayRequest(method, path, {
    body,
    headers,
    stack,
    gateway: base ?? stack.gateway,
    asAdmin: false,
    timeoutMs: 15_000,
  });
}

async function createUser(name: string, grants?: Array<{ prefix: string; access: 'read' | 'write' }>): Promise<string> {
  const username = `${name}-${run}`;
  const created = await call('POST', '/v1/users', {
    body: { username, password: PASSWORD, ...(grants ? { grants } : {}) },
    headers: admin(),
  });
  expect(created.status).toBe(201);
  return username;
}

async function login(username: string, password = PASSWORD, base?: string): Promise<Headers> {
  const answer = await call('POST', '/v1/auth/login', { body: { username, password }, ...(base ? { base } : {}) });
  expect(answer.status).toBe(200);
  const id = /keyflow_session=([^;]*)/.exec(answer.headers.get('set-cookie') ?? '')?.[1];
  return { cookie: `keyflow_session=${id}` };
}

async function tokenFor(session: Headers, body: Record<string, unknown>): Promise<Headers> {
  const created = await call('POST', '/v1/auth/tokens', { body, headers: session });
  expect(created.status).toBe(201);
  return { authorization: `Bearer ${String(created.json.token)}` };
}

/** A request sent from a loopback address of our choosing, so the gateway sees that client. */
function fromAddress(
  localAddress: string,
  method: string,
  path: string,
  headers: Headers,
  body?: unknown,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(path, stack.gateway),
      {
        method,
        localAddress,
        headers: {
          ...headers,
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Opens a watch and collects the keys of the events it sends, until `close`. */
async function watchKeys(query: string, headers: Headers) {
  const abort = new AbortController();
  const response = await fetch(`${stack.gateway}/v1/watch${query}`, { headers, signal: abort.signal });
  const keys: string[] = [];
  if (response.ok && response.body) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    void (async () => {
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (done) return;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = buffer
            .slice(0, end)
            .split('\n')
            .find((l) => l.startsWith('data: '));
          buffer = buffer.slice(end + 2);
          if (data) keys.push((JSON.parse(data.slice(6)) as { key: string }).key);
        }
      }
    })();
  }
  return { status: response.status, text: response.ok ? '' : await response.text(), keys, close: () => abort.abort() };
}

describe('security (e2e through the gateways)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  describe('access scoped by key prefix', () => {
    let bob: Headers;
    const alicePath = `/v1/kv/alice-${run}%2Fx`;

    beforeAll(async () => {
      bob = await login(await createUser('bob', [{ prefix: `bob-${run}/`, access: 'write' }]));
      // Keys of both, written by the admin, applied before the tests read them.
      for (const key of [`alice-${run}/x`, `bob-${run}/seed`]) {
        const put = await call('PUT', `/v1/kv/${encodeURIComponent(key)}`, {
          body: { value: key },
          headers: { ...admin(), prefer: 'wait=10' },
        });
        expect(put.status).toBe(201);
      }
    });

    it('should let Bob write under bob/ and refuse him alice/ for get, put, delete, /store, list, bulk and watch', async () => {
      expect((await call('PUT', `/v1/kv/bob-${run}%2Fx`, { body: { value: 1 }, headers: bob })).status).toBe(202);
      const refused = (what: string) =>
        problem(403, 'forbidden', 'Forbidden', `your grants do not allow ${what} key "alice-${run}/x"`, alicePath);
      expect(await call('GET', alicePath, { headers: bob })).toMatchObject({ status: 403, json: refused('reading') });
      expect(await call('PUT', alicePath, { body: { value: 2 }, headers: bob })).toMatchObject({
        status: 403,
        json: refused('writing'),
      });
      expect((await call('DELETE', alicePath, { headers: bob })).status).toBe(403);
      expect((await call('GET', `/store/alice-${run}%2Fx`, { headers: bob })).status).toBe(403);
      expect((await call('PUT', '/store', { body: { key: `alice-${run}/x`, value: 3 }, headers: bob })).status).toBe(
        403,
      );

      const list = await call('GET', `/v1/kv?prefix=alice-${run}%2F`, { headers: bob });
      expect(list).toMatchObject({
        status: 403,
        json: { detail: `your grants do not allow reading any key under the prefix "alice-${run}/"` },
      });
      const bulk = await call('POST', '/v1/kv', {
        body: {
          operations: [
            { op: 'put', key: `bob-${run}/bulk`, value: 1 },
            { op: 'put', key: `alice-${run}/x`, value: 'mine now' },
          ],
        },
        headers: bob,
      });
      expect(bulk).toMatchObject({
        status: 403,
        json: { detail: `operations[1]: your grants do not allow writing key "alice-${run}/x"; nothing was written` },
      });
      const watch = await watchKeys(`?prefix=alice-${run}%2F`, bob);
      expect(watch.status).toBe(403);

      // Nothing of Bob's reached Alice's key, nor the bulk's first operation.
      const after = await call('GET', `${alicePath}?consistency=strong`, { headers: admin() });
      expect(after.json).toMatchObject({ value: `alice-${run}/x`, version: 1 });
      expect((await call('GET', `/v1/kv/bob-${run}%2Fbulk?consistency=strong`, { headers: admin() })).status).toBe(404);
    });

    it('should list and watch only Bob’s keys under a prefix wider than his grants', async () => {
      const all = await call('GET', `/v1/kv?prefix=&consistency=strong&keysOnly=true&limit=1000`, { headers: bob });
      expect(all.status).toBe(200);
      const keys = (all.json.items as Array<{ key: string }>).map((i) => i.key);
      expect(keys).toContain(`bob-${run}/seed`);
      expect(keys.filter((k) => !k.startsWith(`bob-${run}/`))).toEqual([]);

      const watch = await watchKeys('?prefix=', bob);
      expect(watch.status).toBe(200);
      try {
        await call('PUT', alicePath, { body: { value: 'unseen' }, headers: { ...admin(), prefer: 'wait=10' } });
        await call('PUT', `/v1/kv/bob-${run}%2Fseen`, { body: { value: 1 }, headers: { ...bob, prefer: 'wait=10' } });
        await pollUntil(
          () => Promise.resolve([...watch.keys]),
          (k) => k.includes(`bob-${run}/seen`),
          { timeoutMs: 10_000, intervalMs: 50, what: 'the watch to show bob’s write' },
        );
        expect(watch.keys.filter((k) => !k.startsWith(`bob-${run}/`))).toEqual([]);
      } finally {
        watch.close();
      }
    });

    it('should keep grant changes and user management to admins, and check grants as sent', async () => {
      const username = await createUser('grantee');
      const user = await login(username);
      // No grants given: nothing.
      expect((await call('GET', `/v1/kv/anything-${run}`, { headers: user })).status).toBe(403);
      const byUser = await call('PUT', `/v1/users/${username}/grants`, {
        body: { grants: [{ prefix: '', access: 'write' }] },
        headers: user,
      });
      expect(byUser.status).toBe(403);
      const bad = await call('PUT', `/v1/users/${username}/grants`, {
        body: { grants: [{ prefix: 'a', access: 'admin' }] },
        headers: admin(),
      });
      expect(bad.status).toBe(400);
      const set = await call('PUT', `/v1/users/${username}/grants`, {
        body: { grants: [{ prefix: `g-${run}/`, access: 'read' }] },
        headers: admin(),
      });
      expect(set).toMatchObject({
        status: 200,
        json: { username, role: 'user', grants: [{ prefix: `g-${run}/`, access: 'read' }], disabled: false },
      });
      // The session the user already has acts with the new grants.
      expect((await call('GET', `/v1/kv/g-${run}%2Fnone`, { headers: user })).status).toBe(404);
      expect((await call('PUT', `/v1/kv/g-${run}%2Fnone`, { body: { value: 1 }, headers: user })).status).toBe(403);
      expect(
        (await call('PUT', `/v1/users/nobody-${run}/grants`, { body: { grants: [] }, headers: admin() })).status,
      ).toBe(404);
      const users = await call('GET', '/v1/users', { headers: admin() });
      expect((users.json.users as Array<{ username: string }>).map((u) => u.username)).toContain(username);
      expect((await call('GET', '/v1/users', { headers: user })).status).toBe(403);
    });
  });

  describe('operations and Idempotency-Keys belong to their user', () => {
    it('should answer 404 for another user’s operation, and make one key from two users two requests', async () => {
      const prefix = `shared-${run}/`;
      const alice = await login(await createUser('alice', [{ prefix, access: 'write' }]));
      const bob = await login(await createUser('bobby', [{ prefix, access: 'write' }]));
      const path = `/v1/kv/${encodeURIComponent(`${prefix}k`)}`;
      const key = { 'idempotency-key': `same-${run}` };
      const a = await call('PUT', path, { body: { value: 'alice' }, headers: { ...alice, ...key, prefer: 'wait=10' } });
      expect(a.status).toBe(201);
      const b = await call('PUT', path, { body: { value: 'bob' }, headers: { ...bob, ...key, prefer: 'wait=10' } });
      expect(b.status).toBe(200);
      expect(b.json.operationId).not.toBe(a.json.operationId);
      expect((await call('GET', `${path}?consistency=strong`, { headers: alice })).json).toMatchObject({
        value: 'bob',
        version: 2,
      });

      const opPath = `/v1/operations/${String(a.json.operationId)}`;
      expect((await call('GET', opPath, { headers: alice })).json).toMatchObject({
        status: 'applied',
        key: `${prefix}k`,
      });
      expect(await call('GET', opPath, { headers: bob })).toMatchObject({
        status: 404,
        json: problem(
          404,
          'operation-not-found',
          'Operation not found',
          `no operation with id ${String(a.json.operationId)} is known`,
          opPath,
        ),
      });
      expect((await call('GET', opPath, { headers: admin() })).status).toBe(200);
    });
  });

  describe('tokens', () => {
    it('should give a token a subset of its creator’s grants, list it without its secret, and refuse more', async () => {
      const username = await createUser('tok', [{ prefix: `app-${run}/`, access: 'write' }]);
      const session = await login(username);
      const beyond = await call('POST', '/v1/auth/tokens', {
        body: { name: 'greedy', grants: [{ prefix: '', access: 'read' }] },
        headers: session,
      });
      expect(beyond).toMatchObject({
        status: 403,
        json: { detail: 'a token cannot have more than its creator: you do not have read on ""' },
      });
      const reader = await tokenFor(session, { name: 'reader', grants: [{ prefix: `app-${run}/`, access: 'read' }] });
      const key = `/v1/kv/app-${run}%2Fconfig`;
      expect((await call('PUT', key, { body: { value: 1 }, headers: { ...session, prefer: 'wait=10' } })).status).toBe(
        201,
      );
      expect((await call('GET', key, { headers: reader })).status).toBe(200);
      expect((await call('PUT', key, { body: { value: 2 }, headers: reader })).status).toBe(403);
      // A token made by the reader cannot have write either.
      const more = await call('POST', '/v1/auth/tokens', {
        body: { name: 'escalate', grants: [{ prefix: `app-${run}/`, access: 'write' }] },
        headers: reader,
      });
      expect(more.status).toBe(403);

      // "Last used" is recorded off the request's path: wait for it.
      const listed = await pollUntil(
        () => call('GET', '/v1/auth/tokens', { headers: session }),
        (r) => (r.json.tokens as Array<{ lastUsedAt?: string }> | undefined)?.[0]?.lastUsedAt !== undefined,
        { timeoutMs: 3_000, intervalMs: 100, what: 'the token’s use to be recorded' },
      );
      expect(listed.status).toBe(200);
      expect(listed.json.tokens).toEqual([
        {
          id: expect.any(String),
          name: 'reader',
          grants: [{ prefix: `app-${run}/`, access: 'read' }],
          createdAt: expect.any(String),
          lastUsedAt: expect.any(String),
        },
      ]);
      expect(listed.text).not.toMatch(/kf_/);
    });

    it('should refuse a token once it expired', async () => {
      const session = await login(await createUser('brief', [{ prefix: `brief-${run}/`, access: 'read' }]));
      const created = await call('POST', '/v1/auth/tokens', {
        body: { name: 'short', expiresIn: 1 },
        headers: session,
      });
      expect(created.json.expiresAt).toEqual(expect.any(String));
      const bearer = { authorization: `Bearer ${String(created.json.token)}` };
      expect((await call('GET', '/v1/auth/me', { headers: bearer })).status).toBe(200);
      const refused = await pollUntil(
        () => call('GET', '/v1/auth/me', { headers: bearer }),
        (r) => r.status === 401,
        { timeoutMs: 3_000, intervalMs: 100, what: 'the expired token to be refused' },
      );
      expect(refused.json).toMatchObject({ detail: 'the bearer token is unknown or revoked' });
    });
  });

  describe('accounts', () => {
    it('should end other sessions when the password changes, and need the old one', async () => {
      const username = await createUser('changer');
      const [mine, other] = [await login(username), await login(username)];
      const wrong = await call('POST', '/v1/auth/password', {
        body: { currentPassword: 'not it', newPassword: 'a new password 123' },
        headers: mine,
      });
      expect(wrong.status).toBe(401);
      const changed = await call('POST', '/v1/auth/password', {
        body: { currentPassword: PASSWORD, newPassword: 'a new password 123' },
        headers: mine,
      });
      expect(changed).toMatchObject({ status: 200, json: { sessionsEnded: 1 } });
      for (const api of stack.apis) {
        expect((await call('GET', '/v1/auth/me', { headers: other, base: api })).status).toBe(401);
        expect((await call('GET', '/v1/auth/me', { headers: mine, base: api })).status).toBe(200);
      }
      expect((await call('POST', '/v1/auth/login', { body: { username, password: PASSWORD } })).status).toBe(401);
      await login(username, 'a new password 123');
    });

    it('should stop a disabled user’s session and token within a second on both APIs, and allow them back', async () => {
      const username = await createUser('disabled', [{ prefix: `d-${run}/`, access: 'write' }]);
      const session = await login(username);
      const token = await tokenFor(session, { name: 'ci' });
      for (const api of stack.apis) {
        // Each API has the token in its own memory now.
        expect((await call('GET', '/v1/auth/me', { headers: token, base: api })).status).toBe(200);
      }
      const disabled = await call('PATCH', `/v1/users/${username}`, { body: { disabled: true }, headers: admin() });
      expect(disabled).toMatchObject({
        status: 200,
        json: { username, disabled: true, disabledAt: expect.any(String) },
      });
      const at = Date.now();
      for (const api of stack.apis) {
        for (const credential of [session, token]) {
          await pollUntil(
            () => call('GET', '/v1/auth/me', { headers: credential, base: api }),
            (r) => r.status === 401,
            { timeoutMs: 2_000, intervalMs: 20, what: `${api} to refuse the disabled user` },
          );
        }
      }
      expect(Date.now() - at).toBeLessThan(1_000);
      expect(await call('POST', '/v1/auth/login', { body: { username, password: PASSWORD } })).toMatchObject({
        status: 401,
        json: { detail: 'this account is disabled' },
      });
      expect(
        (await call('PATCH', `/v1/users/${username}`, { body: { disabled: false }, headers: admin() })).status,
      ).toBe(200);
      await login(username);
      expect((await call('GET', '/v1/auth/me', { headers: token })).status).toBe(200);
    });
  });

  describe('behind a TLS-terminating balancer', () => {
    const login = (address: string, username: string, headers: Headers) =>
      fromAddress(address, 'POST', '/v1/auth/login', headers, { username, password: PASSWORD });

    it('should make the cookie Secure and accept its https origin only when a trusted forwarder says https', async () => {
      const username = await createUser('tls', [{ prefix: `tls-${run}/`, access: 'write' }]);
      const https = { 'x-forwarded-proto': 'https' };
      const trusted = await login('127.0.0.77', username, https);
      expect(trusted.status).toBe(200);
      expect(String(trusted.headers['set-cookie'])).toMatch(/; Secure(;|$)/);
      const cookie = /keyflow_session=[^;]*/.exec(String(trusted.headers['set-cookie']))?.[0] ?? '';
      const host = new URL(stack.gateway).host;
      const write = await fromAddress(
        '127.0.0.77',
        'PUT',
        `/v1/kv/tls-${run}%2Fk`,
        { ...https, cookie, origin: `https://${host}` },
        { value: 1 },
      );
      expect(write.status).toBe(202);

      const untrusted = await login('127.0.0.78', username, https);
      expect(untrusted.status).toBe(200);
      expect(String(untrusted.headers['set-cookie'])).not.toMatch(/Secure/);
      const api = stack.apis[0] ?? '';
      const direct = await fetch(`${api}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...https },
        body: JSON.stringify({ username, password: PASSWORD }),
      });
      expect(direct.status).toBe(200);
      expect(direct.headers.get('set-cookie')).not.toMatch(/Secure/);
    });
  });

  describe('the gateway', () => {
    it('should refuse a flood of logins from one address with its own 429, before the APIs hash anything', async () => {
      const statuses: number[] = [];
      let last = { status: 0, headers: {} as Record<string, unknown>, text: '' };
      for (let i = 0; i < 30; i++) {
        last = await fromAddress(
          '127.0.0.79',
          'POST',
          '/v1/auth/login',
          {},
          { username: `flood-${run}-${i}`, password: 'x' },
        );
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(last.status).toBe(429);
      expect(JSON.parse(last.text)).toMatchObject({
        status: 429,
        detail: expect.stringMatching(
          /^This client sent more than \d+ logins per minute to this gateway; retry later\.$/,
        ),
      });
      expect(Number(last.headers['retry-after'])).toBeGreaterThan(0);
      // Another address still logs in.
      const username = await createUser('calm');
      expect(
        (await fromAddress('127.0.0.80', 'POST', '/v1/auth/login', {}, { username, password: PASSWORD })).status,
      ).toBe(200);
    });
  });
});
