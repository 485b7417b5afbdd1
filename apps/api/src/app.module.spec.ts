import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { decodeWrites, encodeWriteBatch, writeMessageText } from '@keyflow/contracts';
import type { TokenOwner } from '@keyflow/db';
import { AMQP, READ_POOL, REDIS, WRITE_POOL } from '@keyflow/runtime';
import { TokenCache } from '@keyflow/session';
import { pollUntil } from '@keyflow/testing';
import { AppModule } from './app.module';
import { generateApiToken, hashApiToken } from './auth/credentials.util';
import { loadApiConfig } from './config/api.config';
import { KvService } from './kv/kv.service';
import { fakeInfrastructure } from './testing/fake-infrastructure';
import { createApiTestingApp } from './testing/testing-app.util';
import { problem } from '../e2e/problem.util';

/**
 * The API's real module graph (AppModule with AuthModule, InfrastructureModule and Terminus) built by
 * `@nestjs/testing`, with only the clients replaced by in-process fakes, and created as `main.ts` creates it.
 * Requests go through Fastify's `inject`: the global guard, pipes and problem filter are the real ones.
 */
const config = loadApiConfig({
  KEYFLOW_INSTANCE: 'api-module-test',
  AMQP_URL: 'amqp://broker.invalid',
  REDIS_NODES: 'redis.invalid:6379',
  DATABASE_URL: 'postgres://db.invalid/keyflow',
  LOG_LEVEL: 'error',
});
const fakes = fakeInfrastructure();
const owner: TokenOwner = {
  tokenId: '3f1c2b4a-8d6e-4f70-9a1b-2c3d4e5f6a7b',
  userId: '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b',
  username: 'ada',
  role: 'user',
  userGrants: [{ prefix: '', access: 'write' }],
  tokenGrants: null,
};
const token = generateApiToken();
let app: NestFastifyApplication;

beforeAll(async () => {
  app = await createApiTestingApp(config, fakes);
  // A token the real AuthService finds through the real TokenCache, in the fake Redis.
  await app.get<TokenCache<TokenOwner>>(TokenCache).fill(hashApiToken(token), owner);
});

afterAll(async () => {
  await app?.close();
});

beforeEach(() => {
  fakes.publisher.published.length = 0;
  fakes.amqp.connected = true;
});

const authorised = { authorization: `Bearer ${token}` };

function put(url: string, payload: string, headers: Record<string, string> = {}) {
  return app.inject({ method: 'PUT', url, payload, headers: { 'content-type': 'application/json', ...headers } });
}

describe(AppModule.name, () => {
  describe(AppModule.forRoot.name, () => {
    it('should build the graph with the fakes behind every infrastructure token', () => {
      expect(app.get(WRITE_POOL)).toBe(fakes.writePool);
      expect(app.get(READ_POOL)).toBe(fakes.readPool);
      expect(app.get(REDIS)).toBe(fakes.redis);
      expect(app.get(AMQP)).toBe(fakes.amqp);
      expect(app.get(KvService)).toBeInstanceOf(KvService);
      // OperationWaiter opened its reply channel on the fake connection when it was constructed.
      expect(fakes.amqp.channels.map((c) => c.name)).toEqual(['operation-waiter']);
    });

    it('should refuse an anonymous write with 401 problem+json from the global guard, before the body is read', async () => {
      const r = await put('/v1/kv/user%3A42', '{"value":1,"unexpected":true}');
      expect(r.statusCode).toBe(401);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="keyflow"');
      expect(r.json()).toEqual(
        problem(
          401,
          'unauthenticated',
          'Unauthorized',
          'this request needs a session (log in) or a bearer token',
          '/v1/kv/user%3A42',
        ),
      );
      expect(fakes.publisher.published).toEqual([]);
    });

    it('should refuse a body the global validation pipe rejects with 400 problem+json', async () => {
      const r = await put('/v1/kv/user%3A42', '{"value":1,"unexpected":true}', authorised);
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toEqual({
        ...problem(
          400,
          'invalid-request',
          'Invalid request',
          'property unexpected should not exist',
          '/v1/kv/user%3A42',
        ),
        errors: ['property unexpected should not exist'],
      });
      expect(fakes.publisher.published).toEqual([]);
    });

    it('should refuse a ttl that is not a whole number of seconds from 1 to 365 days with 400 naming ttl', async () => {
      const detail = 'ttl must be a whole number of seconds from 1 to 31536000 (365 days), sent as a JSON number';
      for (const ttl of ['0', '-1', '1.5', '"2"', 'null', '31536001']) {
        for (const [url, body] of [
          ['/v1/kv/k', `{"value":1,"ttl":${ttl}}`],
          ['/store', `{"key":"k","value":1,"ttl":${ttl}}`],
        ] as const) {
          const r = await put(url, body, authorised);
          expect(r.statusCode, `${url} ${ttl}`).toBe(400);
          expect(r.json()).toEqual({
            ...problem(400, 'invalid-request', 'Invalid request', detail, url),
            errors: [detail],
          });
        }
      }
      expect(fakes.publisher.published).toEqual([]);
    });

    it('should publish a ttl as expiresAt, the time the write was accepted plus ttl', async () => {
      for (const [url, body] of [
        ['/v1/kv/k', '{"value":1,"ttl":2}'],
        ['/store', '{"key":"k","value":1,"ttl":2}'],
      ] as const) {
        expect((await put(url, body, authorised)).statusCode).toBeLessThan(300);
      }
      const messages = fakes.publisher.published.map((p) => p.message);
      expect(messages).toHaveLength(2);
      for (const message of messages) {
        expect(message.expiresAt).toBe(new Date(Date.parse(message.acceptedAt) + 2_000).toISOString());
      }
    });

    it('should document ttl with its bounds and an example, and expiresAt on the entries, in the OpenAPI document', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{
        components: { schemas: Record<string, { properties: Record<string, unknown> }> };
      }>();
      const { schemas } = doc.components;
      for (const dto of ['KvPutDto', 'StorePutDto']) {
        expect(schemas[dto]?.properties.ttl, dto).toMatchObject({
          type: 'integer',
          minimum: 1,
          maximum: 31_536_000,
          example: 60,
          description: expect.stringContaining('365 days'),
        });
      }
      for (const dto of ['KvEntryResponseDto', 'StoreGetResponseDto']) {
        expect(schemas[dto]?.properties.expiresAt, dto).toMatchObject({ type: 'string' });
      }
    });

    it('should map a domain error thrown by a service to its status with the problem filter', async () => {
      const id = '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e';
      const r = await app.inject({ method: 'GET', url: `/v1/operations/${id}`, headers: authorised });
      expect(r.statusCode).toBe(404);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.json()).toEqual(
        problem(
          404,
          'operation-not-found',
          'Operation not found',
          `no operation with id ${id} is known`,
          `/v1/operations/${id}`,
        ),
      );
      // OperationsService asked the (empty) database first, through the real repository over the fake pool.
      expect(fakes.writePool.queries.at(-1)?.values).toEqual([id]);
    });

    it('should accept an authenticated PUT: KvService publishes the write message and tracks the operation', async () => {
      const r = await put('/v1/kv/user%3A42', '{"value":{"name":"Ada","languages":["en","fr"]}}', {
        ...authorised,
        'x-request-id': '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      });
      expect(r.statusCode).toBe(202);
      const { operationId } = r.json<{ operationId: string }>();
      expect(r.json()).toEqual({ operationId, key: 'user:42', status: 'accepted' });
      expect(r.headers.location).toBe(`/v1/operations/${operationId}`);

      expect(fakes.publisher.published).toHaveLength(1);
      const [{ message, options }] = fakes.publisher.published;
      expect(message).toEqual({
        v: 1,
        id: operationId,
        key: 'user:42',
        type: 'put',
        value: { name: 'Ada', languages: ['en', 'fr'] },
        acceptedAt: expect.any(String),
        owner: owner.userId,
        requestId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      });
      expect(options).toEqual({ valueJson: '{"name":"Ada","languages":["en","fr"]}' });
      // What the real publisher would put on the wire reads back as the same message.
      expect(decodeWrites(encodeWriteBatch([writeMessageText(message, options.valueJson)]))).toEqual([
        expect.objectContaining({ ok: true, message }),
      ]);

      // Tracked (in the fake Redis) before the 202, so the operation can be followed at once.
      const followed = await app.inject({ method: 'GET', url: `/v1/operations/${operationId}`, headers: authorised });
      expect(followed.statusCode).toBe(200);
      expect(followed.json()).toEqual({
        id: operationId,
        key: 'user:42',
        type: 'put',
        acceptedAt: message.acceptedAt,
        status: 'accepted',
      });
    });

    it('should put the request id on the message of every write route, and leave out one unfit to log', async () => {
      const requestId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
      const withId = { ...authorised, 'x-request-id': requestId };
      expect((await put('/v1/kv/a', '{"value":1}', withId)).statusCode).toBe(202);
      expect((await app.inject({ method: 'DELETE', url: '/v1/kv/a', headers: withId })).statusCode).toBe(202);
      expect((await put('/store', '{"key":"b","value":2}', withId)).statusCode).toBe(200);
      expect((await app.inject({ method: 'DELETE', url: '/store/b', headers: withId })).statusCode).toBe(202);
      const bulk = '{"operations":[{"op":"put","key":"c","value":3},{"op":"delete","key":"d"}]}';
      expect(
        (
          await app.inject({
            method: 'POST',
            url: '/v1/kv',
            payload: bulk,
            headers: { ...withId, 'content-type': 'application/json' },
          })
        ).statusCode,
      ).toBe(202);
      expect(fakes.publisher.published.map((p) => [p.message.key, p.message.type, p.message.requestId])).toEqual([
        ['a', 'put', requestId],
        ['a', 'delete', requestId],
        ['b', 'put', requestId],
        ['b', 'delete', requestId],
        ['c', 'put', requestId],
        ['d', 'delete', requestId],
      ]);

      // Straight to the API (no gateway), a client may send any X-Request-Id: one unfit to log stays out.
      fakes.publisher.published.length = 0;
      expect(
        (await put('/v1/kv/a', '{"value":1}', { ...authorised, 'x-request-id': 'x'.repeat(200) })).statusCode,
      ).toBe(202);
      expect(fakes.publisher.published[0]?.message).not.toHaveProperty('requestId');
    });

    it('should answer liveness and readiness from the fake dependencies without credentials', async () => {
      const live = await app.inject({ method: 'GET', url: '/health/live' });
      expect(live.statusCode).toBe(200);
      expect(live.json()).toEqual({ status: 'ok', instance: 'api-module-test' });

      const ready = await app.inject({ method: 'GET', url: '/health/ready' });
      expect(ready.statusCode).toBe(200);
      const up = { database: { status: 'up' }, redis: { status: 'up' }, rabbitmq: { status: 'up' } };
      expect(ready.json()).toEqual({ status: 'ok', info: up, error: {}, details: up });
    });

    it('should answer readiness 503 problem+json naming the dependency that is down, once its last check is a second old', async () => {
      fakes.amqp.connected = false;
      // One check a second answers every caller: the broker's fall is seen from the next check on.
      const ready = await pollUntil(
        () => app.inject({ method: 'GET', url: '/health/ready' }),
        (r) => r.statusCode !== 200,
        { timeoutMs: 3_000, intervalMs: 100, what: 'readiness to see the broker down' },
      );
      expect(ready.statusCode).toBe(503);
      expect(ready.headers['content-type']).toMatch(/^application\/problem\+json/);
      // Terminus's report travels as extensions of the problem (its `error` map is dropped with Nest's `error` field).
      expect(ready.json()).toEqual({
        type: 'about:blank',
        title: 'Service unavailable',
        status: 503,
        detail: 'Service Unavailable Exception',
        instance: '/health/ready',
        requestId: expect.any(String),
        info: { database: { status: 'up' }, redis: { status: 'up' } },
        details: {
          database: { status: 'up' },
          redis: { status: 'up' },
          rabbitmq: { status: 'down', message: 'not connected to the broker' },
        },
      });
    });
  });
});

describe(`${AppModule.name} close`, () => {
  it('should close the publisher and the reply channel before the broker connection, and the clients last', async () => {
    const closing = fakeInfrastructure();
    const closed = await createApiTestingApp(config, closing);
    await closed.close();
    const connectionClosed = closing.log.indexOf('amqp: close connection');
    expect(closing.log.slice(0, connectionClosed).some((entry) => entry.startsWith('amqp: close channel'))).toBe(true);
    expect(closing.log.filter((entry) => !entry.startsWith('amqp: close channel'))).toEqual([
      'publisher: close',
      'amqp: close connection',
      'redis: disconnect',
      'write pool: end',
      'read pool: end',
    ]);
  });
});
