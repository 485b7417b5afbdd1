import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyflowClient } from '@keyflow/client';
import {
  adminAuthHeaders,
  deadLetterPut,
  gatewayRequest,
  pollUntil,
  postgresPrimary,
  readStack,
  type StackInfo,
} from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * The routes the web console needs besides the key routes: the session's own facts, the caller's tokens, and the
 * admin's view of the cluster. Through the gateways, with the client the console uses.
 */
let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const PASSWORD = `pw-${randomUUID()}`;

async function createUser(name: string, role: 'user' | 'admin'): Promise<string> {
  const username = `${name}-${run}`;
  const created = await gatewayRequest('POST', '/v1/users', {
    body: { username, password: PASSWORD, role },
    headers: adminAuthHeaders(stack),
    stack,
  });
  expect(created.status).toBe(201);
  return username;
}

/** A client holding a session cookie, as a browser would after logging in through `gateway`. */
async function loggedIn(username: string, gateway: string): Promise<KeyflowClient> {
  const client = new KeyflowClient({ baseUrl: gateway });
  await client.login(username, PASSWORD);
  return client;
}

describe('routes of the web console (e2e through the gateways)', () => {
  let user: string;
  let admin: string;

  beforeAll(async () => {
    stack = readStack();
    [user, admin] = await Promise.all([createUser('console-user', 'user'), createUser('console-admin', 'admin')]);
  });

  describe('GET /v1/auth/session', () => {
    it('should give the same session start through every gateway, the instance, and when it ends', async () => {
      const before = Date.now();
      const viaFirst = await loggedIn(user, stack.gateways[0] ?? stack.gateway);
      const first = await viaFirst.session();
      expect(first.data).toEqual({
        username: user,
        role: 'user',
        instance: first.servedBy,
        startedAt: expect.any(String),
        idleExpiresAt: expect.any(String),
        absoluteExpiresAt: expect.any(String),
        expiresAt: expect.any(String),
      });
      const started = Date.parse(first.data.startedAt);
      expect(started).toBeGreaterThanOrEqual(before - 1_000);
      expect(started).toBeLessThanOrEqual(Date.now());
      // The stack's defaults: 30 minutes idle, 12 hours at most.
      expect(Date.parse(first.data.absoluteExpiresAt) - started).toBe(12 * 3_600_000);
      expect(first.data.expiresAt).toBe(first.data.idleExpiresAt);
      expect(first.gateway).toBe(new URL(stack.gateways[0] ?? stack.gateway).host);
      const cookie = viaFirst.sessionCookie;
      for (const gateway of stack.gateways.slice(1)) {
        const other = await new KeyflowClient({ baseUrl: gateway, cookie }).session();
        expect(other.data.startedAt).toBe(first.data.startedAt);
        expect(other.gateway).toBe(new URL(gateway).host);
      }
    });

    it('should refuse a bearer token (it has no session) with 400, and no credentials with 401', async () => {
      const asToken = await gatewayRequest('GET', '/v1/auth/session', { stack });
      expect(asToken).toMatchObject({
        status: 400,
        json: problem(
          400,
          'invalid-request',
          'Invalid request',
          'a bearer token has no session; log in to get one',
          '/v1/auth/session',
        ),
      });
      expect((await gatewayRequest('GET', '/v1/auth/session', { stack, asAdmin: false })).status).toBe(401);
    });
  });

  describe('GET /v1/auth/tokens', () => {
    it("should list the caller's live tokens, never the secret, and not another user's", async () => {
      const client = await loggedIn(user, stack.gateway);
      const first = await client.createToken('first');
      const second = await client.createToken('second');
      await client.revokeToken(first.id);
      const listed = await client.listTokens();
      expect(listed.map((t) => t.id)).toEqual([second.id]);
      expect(listed[0]).toMatchObject({ name: 'second', createdAt: second.createdAt });
      expect(JSON.stringify(listed)).not.toContain(second.token);
      const other = await loggedIn(admin, stack.gateway);
      expect((await other.listTokens()).map((t) => t.id)).not.toContain(second.id);
    });
  });

  describe('GET /v1/admin/cluster', () => {
    it('should show an admin every process of the topology, up, the database primary and the queues', async () => {
      const client = await loggedIn(admin, stack.gateway);
      const { data } = await client.cluster();
      expect(data.topology).toBe('test');
      const names = data.processes.map((p) => p.name);
      for (const name of ['gateway-1', 'gateway-2', 'gateway-3', 'api-1', 'api-2', 'worker-1', 'worker-2']) {
        expect(names).toContain(name);
      }
      for (const name of [
        'pg-1',
        'pg-2',
        'pg-3',
        'rmq1',
        'rmq2',
        'rmq3',
        'haproxy',
        'named',
        'etcd',
        'haproxy-edge-lb-1',
      ]) {
        expect(names).toContain(name);
      }
      expect(data.processes.filter((p) => p.kind === 'redis')).toHaveLength(6);
      expect(data.processes.filter((p) => p.status === 'down')).toEqual([]);
      const primary = await postgresPrimary(stack);
      const shown = data.processes.find((p) => p.name === data.databasePrimary);
      expect(shown?.address).toBe(`${primary?.host ?? '127.0.0.1'}:${primary?.port}`);
      expect(data.processes.find((p) => p.name === data.databasePrimary)?.role).toBe('primary');
      expect(new Set(data.processes.filter((p) => p.kind === 'redis').map((p) => p.role))).toEqual(
        new Set(['master', 'replica']),
      );
      expect(data.queues).toHaveLength(17);
      expect(data.queues.at(-1)).toMatchObject({ name: 'kv.dead-letter', messages: expect.any(Number) });
      expect(data.queues[0]).toMatchObject({ name: 'kv.shard.0', consumers: expect.any(Number) });
      expect(data.deadLetters).toBe(data.queues.at(-1)?.messages);
    });

    it('should refuse a plain user with 403', async () => {
      const client = await loggedIn(user, stack.gateway);
      await expect(client.cluster()).rejects.toMatchObject({ status: 403 });
    });
  });

  describe('GET /v1/admin/dead-letters and POST …/{operationId}/replay', () => {
    it('should list a dead-lettered write and replay it so that it is applied', async () => {
      const key = `console-dlq-${run}`;
      const id = await deadLetterPut(key, { replayed: true }, stack);
      const client = await loggedIn(admin, stack.gateway);
      const listed = await pollUntil(
        () => client.deadLetters({ limit: 100 }),
        (page) => page.items.some((l) => l.operationId === id),
        { what: 'the dead letter to be listed' },
      );
      expect(listed.items.find((l) => l.operationId === id)).toMatchObject({
        key,
        type: 'put',
        reason: 'delivery_limit',
      });
      expect(listed.total).toBeGreaterThanOrEqual(1);
      // The audit marks the operation failed first; a replay needs that record.
      await pollUntil(
        () => gatewayRequest('GET', `/v1/operations/${id}`, { stack }),
        (r) => r.json.status === 'failed',
        { what: 'the audit to mark the operation failed' },
      );
      const replayed = await client.replayDeadLetter(id);
      expect(replayed).toEqual({
        result: 'replayed',
        messages: expect.arrayContaining([expect.stringContaining(`replayed ${id} (put ${key})`)]),
      });
      await pollUntil(
        () => gatewayRequest('GET', `/v1/operations/${id}`, { stack }),
        (r) => r.json.status === 'applied',
        { what: 'the replayed write to be applied' },
      );
      await expect(client.replayDeadLetter(id)).rejects.toMatchObject({
        status: 404,
        detail: `no dead letter for operation ${id}`,
      });
      const user = await loggedIn(await createUser('dlq-user', 'user'), stack.gateway);
      await expect(user.deadLetters()).rejects.toMatchObject({ status: 403 });
    });
  });
});
