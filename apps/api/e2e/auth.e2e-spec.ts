import { randomUUID } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminAuthHeaders,
  gatewayRequest,
  isAlive,
  killProcess,
  pollUntil,
  readStack,
  startProcess,
  type StackInfo,
} from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * Sessions and access, end to end: three nginx gateways behind BIND9 round robin, two APIs, the Redis cluster
 * holding sessions and PostgreSQL holding users and tokens. Nothing is sticky: a session made through one
 * gateway and one API must work through every other.
 */
let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const PASSWORD = `pw-${randomUUID()}`;

/** Through `base`, one of the gateways, with only the headers given: who may do what is what this suite tests. */
function call(
  base: string,
  method: string,
  path: string,
  { body, headers }: { body?: unknown; headers?: Record<string, string> } = {},
) {
  return gatewayRequest(method, path, { body, headers, stack, gateway: base, asAdmin: false, timeoutMs: 15_000 });
}

const gateway = (i: number): string => {
  const url = stack.gateways[i];
  if (!url) throw new Error(`the stack has no gateway ${i + 1}`);
  return url;
};

async function createUser(name: string, role: 'user' | 'admin' = 'user'): Promise<string> {
  const username = `${name}-${run}`;
  const created = await call(gateway(0), 'POST', '/v1/users', {
    // The keys this suite writes (a new user may touch nothing until granted).
    body: { username, password: PASSWORD, role, grants: [{ prefix: `auth-${run}-`, access: 'write' }] },
    headers: adminAuthHeaders(stack),
  });
  expect(created.status).toBe(201);
  return username;
}

/** Logs in through `base`; returns the `Cookie` header to send and the raw `Set-Cookie`. */
async function login(base: string, username: string, password = PASSWORD, cookie?: string) {
  const answer = await call(base, 'POST', '/v1/auth/login', {
    body: { username, password },
    headers: cookie ? { cookie } : {},
  });
  const setCookie = answer.headers.get('set-cookie') ?? '';
  const id = /keyflow_session=([^;]*)/.exec(setCookie)?.[1];
  return { answer, setCookie, cookie: id ? `keyflow_session=${id}` : '' };
}

/**
 * A login sent from a loopback address of our choosing (every 127.0.0.0/8 address is this machine's), so that the
 * gateway, and the API behind it, see a different client.
 */
function loginFrom(localAddress: string, username: string, password: string): Promise<number> {
  const url = new URL('/v1/auth/login', gateway(0));
  const body = JSON.stringify({ username, password });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('sessions and access (e2e through the gateways)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  describe('DNS round robin', () => {
    it('should answer the gateways’ name with all three gateways, each first in turn', async () => {
      const dns = stack.dns;
      if (!dns) throw new Error('the test stack has no dns section');
      const resolver = new Resolver({ timeout: 1_000, tries: 2 });
      resolver.setServers([dns.server]);
      const answers: string[][] = [];
      for (let i = 0; i < 6; i++) answers.push(await resolver.resolve4(dns.name));
      const addresses = stack.gateways.map((g) => new URL(g).hostname).sort();
      for (const answer of answers) expect([...answer].sort()).toEqual(addresses);
      expect(new Set(answers.map((a) => a[0])).size).toBe(3);
    });
  });

  describe('a session', () => {
    let username: string;
    let cookie: string;

    beforeAll(async () => {
      username = await createUser('roamer');
      ({ cookie } = await login(gateway(0), username));
      expect(cookie).not.toBe('');
    });

    afterAll(async () => {
      // Whatever happened in the kill test, leave both APIs running for the suites after this one.
      const api1 = readStack().processes.find((p) => p.name === 'api-1');
      if (api1 && !isAlive(api1.pid)) await startProcess('api-1', { waitForHealth: true });
    });

    it('should hold on gateways 2 and 3 and on both API instances', async () => {
      const servedBy = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const me = await call(gateway(1 + (i % 2)), 'GET', '/v1/auth/me', { headers: { cookie } });
        expect(me).toMatchObject({
          status: 200,
          json: { username, role: 'user', authenticatedBy: 'session', instance: me.headers.get('x-served-by') },
        });
        servedBy.add(String(me.json.instance));
      }
      expect([...servedBy].sort()).toEqual(['api-1', 'api-2']);
    });

    it('should survive the death of an API instance', async () => {
      await killProcess('api-1', 'SIGKILL');
      const statuses: number[] = [];
      const servedBy = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const me = await call(gateway(i % 3), 'GET', '/v1/auth/me', { headers: { cookie } });
        statuses.push(me.status);
        servedBy.add(String(me.headers.get('x-served-by')));
        expect(me.json.username).toBe(username);
      }
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      expect([...servedBy]).toEqual(['api-2']);
      await startProcess('api-1', { waitForHealth: true });
      // Once nginx's fail_timeout has passed it tries api-1 again, and the same session works there too.
      const back = new Set<string>();
      await pollUntil(
        async () => {
          const me = await call(gateway(back.size % 3), 'GET', '/v1/auth/me', { headers: { cookie } });
          if (me.status === 200) back.add(String(me.json.instance));
          return back.size;
        },
        (size) => size === 2,
        { timeoutMs: 20_000, intervalMs: 100, what: 'the session to be served by the restarted api-1' },
      );
    });

    it('should let a session write from the service’s own origin, and refuse a foreign one (CSRF)', async () => {
      const path = `/v1/kv/auth-${run}-csrf`;
      const own = await call(gateway(1), 'PUT', path, {
        body: { value: 1 },
        headers: { cookie, origin: gateway(1) },
      });
      expect(own.status).toBe(202);
      const foreign = await call(gateway(2), 'PUT', path, {
        body: { value: 2 },
        headers: { cookie, origin: 'http://evil.example' },
      });
      expect(foreign).toMatchObject({
        status: 403,
        json: problem(
          403,
          'forbidden',
          'Forbidden',
          "cross-site request refused: a session may only write from this service's own pages, not from http://evil.example",
          path,
        ),
      });
      const viaReferer = await call(gateway(2), 'DELETE', path, {
        headers: { cookie, referer: 'http://evil.example/page.html' },
      });
      expect(viaReferer.status).toBe(403);
    });

    it('should end on every instance at logout', async () => {
      const { cookie: other } = await login(gateway(2), username);
      const out = await call(gateway(1), 'POST', '/v1/auth/logout', { headers: { cookie: other } });
      expect(out.status).toBe(204);
      expect(out.headers.get('set-cookie')).toMatch(/^keyflow_session=;/);
      for (const api of stack.apis) {
        expect(await call(api, 'GET', '/v1/auth/me', { headers: { cookie: other } })).toMatchObject({
          status: 401,
          json: problem(401, 'unauthenticated', 'Unauthorized', 'the session has ended; log in again', '/v1/auth/me'),
        });
      }
      // The first session of the same user is untouched.
      expect((await call(gateway(0), 'GET', '/v1/auth/me', { headers: { cookie } })).status).toBe(200);
    });
  });

  describe('login', () => {
    it('should set an HttpOnly, SameSite=Lax session cookie (not Secure over plain HTTP) and rotate it', async () => {
      const username = await createUser('cookie');
      const first = await login(gateway(0), username);
      expect(first.answer).toMatchObject({
        status: 200,
        json: { username, role: 'user', instance: expect.any(String) },
      });
      expect(first.setCookie).toMatch(
        /^keyflow_session=[A-Za-z0-9_-]{43}; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/,
      );
      // Logging in again while holding a session replaces it: the old id is dead.
      const second = await login(gateway(1), username, PASSWORD, first.cookie);
      expect(second.cookie).not.toBe(first.cookie);
      expect((await call(gateway(2), 'GET', '/v1/auth/me', { headers: { cookie: first.cookie } })).status).toBe(401);
      expect((await call(gateway(2), 'GET', '/v1/auth/me', { headers: { cookie: second.cookie } })).status).toBe(200);
    });

    it('should answer a wrong password and an unknown user with the same 401', async () => {
      const username = await createUser('wrongpw');
      const wrong = await login(gateway(0), username, 'not the password');
      const unknown = await login(gateway(1), `nobody-${run}`, PASSWORD);
      for (const { answer, setCookie } of [wrong, unknown]) {
        expect(setCookie).toBe('');
        expect(answer).toMatchObject({
          status: 401,
          json: problem(401, 'unauthenticated', 'Unauthorized', 'wrong username or password', '/v1/auth/login'),
        });
      }
    });

    it('should answer 429 with Retry-After after repeated bad logins, whichever gateway they come through', async () => {
      const username = await createUser('guessed');
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await login(gateway(i % 3), username, `guess-${i}`)).answer.status);
      expect(statuses).toEqual([401, 401, 401, 401, 401]);
      const blocked = await login(gateway(1), username);
      expect(blocked.answer).toMatchObject({
        status: 429,
        json: problem(
          429,
          'rate-limited',
          'Too many requests',
          expect.stringMatching(/^too many login attempts; try again in \d+ s$/),
          '/v1/auth/login',
        ),
      });
      expect(Number(blocked.answer.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(blocked.setCookie).toBe('');
    });

    it("should let a user log in from their own address while a stranger's 50 bad logins are refused", async () => {
      const username = await createUser('hammered');
      const stranger: number[] = [];
      for (let i = 0; i < 50; i++) stranger.push(await loginFrom('127.0.0.66', username, `guess-${i}`));
      expect(stranger.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(new Set(stranger.slice(5))).toEqual(new Set([429]));
      expect(await loginFrom('127.0.0.67', username, PASSWORD)).toBe(200);
    });

    it('should not let a client that reaches an API port directly choose its address with X-Forwarded-For', async () => {
      const username = await createUser('forger');
      const api = stack.apis[0];
      if (!api) throw new Error('the test stack has no API');
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const answer = await fetch(`${api}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.9.9.${i}` },
          body: JSON.stringify({ username, password: `guess-${i}` }),
        });
        statuses.push(answer.status);
      }
      // One address (this machine's), whatever each request claimed: the sixth guess is throttled.
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    });

    it('should refuse a malformed body with 400', async () => {
      const answer = await call(gateway(0), 'POST', '/v1/auth/login', { body: { username: 'x' } });
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });
  });

  describe('protection', () => {
    it('should refuse anonymous writes and (by default) anonymous reads with 401 and a challenge', async () => {
      const path = `/v1/kv/auth-${run}-anon`;
      const write = await call(gateway(0), 'PUT', path, { body: { value: 1 } });
      expect(write).toMatchObject({
        status: 401,
        json: problem(
          401,
          'unauthenticated',
          'Unauthorized',
          'this request needs a session (log in) or a bearer token',
          path,
        ),
      });
      expect(write.headers.get('www-authenticate')).toBe('Bearer realm="keyflow"');
      expect((await call(gateway(1), 'GET', path)).status).toBe(401);
      expect((await call(gateway(2), 'PUT', '/store', { body: { key: 'k', value: 'v' } })).status).toBe(401);
      expect((await call(gateway(0), 'GET', '/health/ready')).status).toBe(200);
    });

    it('should keep user creation to admins', async () => {
      const username = await createUser('plain');
      const { cookie } = await login(gateway(0), username);
      const attempt = await call(gateway(1), 'POST', '/v1/users', {
        body: { username: `sneaky-${run}`, password: PASSWORD },
        headers: { cookie },
      });
      expect(attempt).toMatchObject({
        status: 403,
        json: problem(403, 'forbidden', 'Forbidden', 'only an admin may do this', '/v1/users'),
      });
      const again = await call(gateway(2), 'POST', '/v1/users', {
        body: { username, password: PASSWORD },
        headers: adminAuthHeaders(stack),
      });
      expect(again).toMatchObject({
        status: 409,
        json: problem(409, 'user-exists', 'User exists', `a user named "${username}" already exists`, '/v1/users'),
      });
      const bad = await call(gateway(0), 'POST', '/v1/users', {
        body: { username: 'Not Valid', password: 'short' },
        headers: adminAuthHeaders(stack),
      });
      expect(bad.status).toBe(400);
      expect(bad.json.errors).toEqual([
        'username must be 2–64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
        'password must be longer than or equal to 12 characters',
      ]);
    });

    it('should give the instance, its uptime and its dependencies at /v1/status', async () => {
      const status = await call(gateway(0), 'GET', '/v1/status', { headers: adminAuthHeaders(stack) });
      expect(status).toMatchObject({
        status: 200,
        json: {
          instance: status.headers.get('x-served-by'),
          startedAt: expect.any(String),
          uptimeSeconds: expect.any(Number),
          dependencies: { database: { status: 'up' }, redis: { status: 'up' }, rabbitmq: { status: 'up' } },
        },
      });
    });
  });

  describe('bearer tokens', () => {
    it('should work on every instance until revoked, then within a second on none', async () => {
      const username = await createUser('machine');
      const { cookie } = await login(gateway(0), username);
      const created = await call(gateway(1), 'POST', '/v1/auth/tokens', {
        body: { name: 'ci' },
        headers: { cookie },
      });
      expect(created).toMatchObject({
        status: 201,
        json: {
          id: expect.any(String),
          name: 'ci',
          token: expect.stringMatching(/^kf_/),
          createdAt: expect.any(String),
        },
      });
      const bearer = { authorization: `Bearer ${String(created.json.token)}` };
      for (const api of stack.apis) {
        expect(await call(api, 'GET', '/v1/auth/me', { headers: bearer })).toMatchObject({
          status: 200,
          json: { username, authenticatedBy: 'token' },
        });
      }
      const write = await call(gateway(2), 'PUT', `/v1/kv/auth-${run}-token`, { body: { value: 1 }, headers: bearer });
      expect(write.status).toBe(202);

      const revoked = await call(gateway(2), 'DELETE', `/v1/auth/tokens/${String(created.json.id)}`, {
        headers: bearer,
      });
      expect(revoked.status).toBe(204);
      // Every API drops the token when the revocation is announced, and trusts its memory 0.9 s at most anyway.
      const revokedAt = Date.now();
      for (const base of [...stack.apis, ...stack.gateways]) {
        const refused = await pollUntil(
          () => call(base, 'GET', '/v1/auth/me', { headers: bearer }),
          (r) => r.status === 401,
          { what: `${base} to refuse the revoked token`, timeoutMs: 2_000, intervalMs: 20 },
        );
        expect(refused.json).toMatchObject({ detail: 'the bearer token is unknown or revoked' });
      }
      expect(Date.now() - revokedAt).toBeLessThan(1_000);
      expect(
        (await call(gateway(0), 'DELETE', `/v1/auth/tokens/${randomUUID()}`, { headers: { cookie } })).status,
      ).toBe(404);
      expect((await call(gateway(0), 'DELETE', '/v1/auth/tokens/not-a-uuid', { headers: { cookie } })).status).toBe(
        400,
      );
    });

    it('should refuse a bearer token that was never issued, even alongside a valid cookie', async () => {
      const username = await createUser('mixed');
      const { cookie } = await login(gateway(0), username);
      const answer = await call(gateway(1), 'GET', '/v1/auth/me', {
        headers: { cookie, authorization: 'Bearer kf_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      });
      expect(answer.status).toBe(401);
    });
  });

  describe('passwords at rest and in logs', () => {
    it('should store only an argon2id hash and never write the password to any log', async () => {
      const username = await createUser('secretive');
      await login(gateway(0), username);
      await login(gateway(1), username, `${PASSWORD}-wrong`);
      const pool = new Pool({ connectionString: stack.db.primary, max: 1 });
      try {
        const { rows } = await pool.query<Record<string, unknown>>('SELECT * FROM users WHERE username = $1', [
          username,
        ]);
        expect(rows).toHaveLength(1);
        const row = JSON.stringify(rows[0]);
        expect(rows[0]?.password_hash).toMatch(/^\$argon2id\$v=19\$/);
        expect(row).not.toContain(PASSWORD);
      } finally {
        await pool.end();
      }
      const logDir = join(stack.stackDir, 'logs');
      const logs = readdirSync(logDir, { recursive: true, encoding: 'utf8' })
        .map((f) => join(logDir, f))
        .filter((f) => statSync(f).isFile())
        .map((f) => readFileSync(f, 'utf8'));
      // The logs exist and say things (so an empty directory cannot pass this), but never the password.
      expect(logs.join('').length).toBeGreaterThan(1_000);
      expect(logs.filter((text) => text.includes(PASSWORD))).toEqual([]);
    });
  });
});
