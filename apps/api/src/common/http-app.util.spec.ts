import 'reflect-metadata';
import { gzipSync } from 'node:zlib';
import { connect, type AddressInfo } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_VALUE_DEPTH } from '@keyflow/contracts';
import { pollUntil } from '@keyflow/testing';
import { KvController } from '../kv/kv.controller';
import { KvService, type WriteResult } from '../kv/kv.service';
import type { WriteOptions } from '../kv/write-preconditions.util';
import { StoreController } from '../store/store.controller';
import { problem } from '../../e2e/problem.util';
import { actAs, TEST_PRINCIPAL } from '../testing/principal.util';
import { createHttpApp } from './http-app.util';

/**
 * The HTTP layer in process: the real controllers, parser, hooks, pipes and problem filter, with a fake
 * KvService standing in for Redis, RabbitMQ and PostgreSQL. What the service receives is what would be stored.
 */
const puts: Array<{ key: string; value: unknown; options?: WriteOptions }> = [];
const fakeKv = {
  put: vi.fn((key: string, value: unknown, options?: WriteOptions): Promise<WriteResult> => {
    puts.push({ key, value, options });
    return Promise.resolve({
      kind: 'accepted',
      accepted: { operationId: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b', key, status: 'accepted' },
      replayed: false,
    });
  }),
  get: vi.fn(() =>
    Promise.resolve({ key: 'k', valueJson: '1', version: 1, updatedAt: '2026-01-01T00:00:00.000Z', source: 'cache' }),
  ),
  delete: vi.fn(),
};

let app: NestFastifyApplication;

beforeAll(async () => {
  app = await createHttpApp(
    {
      module: class HttpTestModule {},
      controllers: [KvController, StoreController],
      providers: [{ provide: KvService, useValue: fakeKv }],
    },
    { instance: 'api-test', logger: false },
  );
  actAs(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  puts.length = 0;
  vi.clearAllMocks();
});

function put(url: string, payload: string | Buffer, headers: Record<string, string> = {}) {
  return app.inject({ method: 'PUT', url, payload, headers: { 'content-type': 'application/json', ...headers } });
}

const invalidValue = (detail: string, instance = '/v1/kv/k') =>
  problem(400, 'invalid-value', 'Invalid value', detail, instance);

/** PUTs `payload` to `url` and expects the 400 invalid-value problem with `detail`, the service never called. */
async function expectInvalidValue(payload: string, detail: string, url = '/v1/kv/k'): Promise<void> {
  const r = await put(url, payload);
  expect(r.statusCode).toBe(400);
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(r.json()).toEqual(invalidValue(detail, url));
  expect(fakeKv.put).not.toHaveBeenCalled();
}

describe(createHttpApp.name, () => {
  describe('JSON bodies', () => {
    it('should pass values that read back as written to the service unchanged', async () => {
      const body = '{"value":{"n":1.50,"max":9007199254740991,"tiny":5e-324,"s":"é 🙂 \\u0001","ok":[-0,0.1,1e21]}}';
      const r = await put('/v1/kv/k', body, { 'x-request-id': 'req-values' });
      expect(r.statusCode).toBe(202);
      expect(puts).toEqual([
        {
          key: 'k',
          value: { n: 1.5, max: 9007199254740991, tiny: 5e-324, s: 'é 🙂 \u0001', ok: [-0, 0.1, 1e21] },
          options: { waitMs: 0, owner: TEST_PRINCIPAL.userId, requestId: 'req-values' },
        },
      ]);
    });

    it('should take a charset parameter and a byte order mark as before', async () => {
      const r = await put('/v1/kv/k', '\ufeff{"value":"é"}', { 'content-type': 'application/json; charset=utf-8' });
      expect(r.statusCode).toBe(202);
      expect(puts).toEqual([
        { key: 'k', value: 'é', options: { waitMs: 0, owner: TEST_PRINCIPAL.userId, requestId: expect.any(String) } },
      ]);
    });

    it('should refuse a number a double cannot hold exactly with 400, before the service sees it', async () => {
      await expectInvalidValue(
        '{"value":12345678901234567890123}',
        'the number 12345678901234567890123 at /value cannot be stored exactly: keyflow stores numbers as ' +
          'IEEE 754 doubles and it would read back as 1.2345678901234568e+22 (send it as a string to keep every digit)',
      );
    });

    it('should refuse a number beyond the range of a double instead of storing null', async () => {
      await expectInvalidValue(
        '{"value":1e999999}',
        'the number 1e999999 at /value is out of range: keyflow stores numbers as IEEE 754 doubles, ' +
          'whose magnitude is at most 1.7976931348623157e+308',
      );
    });

    it('should refuse U+0000 and lone surrogates, which PostgreSQL cannot store', async () => {
      await expectInvalidValue(
        '{"value":"a\\u0000b"}',
        'the string at /value contains U+0000 (the NUL character), which keyflow cannot store',
      );
      await expectInvalidValue(
        '{"value":{"x":["\\ud800"]}}',
        'the string at /value/x/0 contains a lone UTF-16 surrogate (such as \\ud800 without its pair), which is not Unicode text',
      );
    });

    it('should refuse a value nested 100,000 levels deep with 400, not 500', async () => {
      await expectInvalidValue(
        `{"value":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
        `the value is nested too deeply at /value${'/0'.repeat(MAX_VALUE_DEPTH)}: ` +
          `arrays and objects may nest at most ${MAX_VALUE_DEPTH} levels deep`,
      );
    });

    it(`should accept a value nested ${MAX_VALUE_DEPTH} levels deep`, async () => {
      const r = await put('/v1/kv/k', `{"value":${'['.repeat(MAX_VALUE_DEPTH)}${']'.repeat(MAX_VALUE_DEPTH)}}`);
      expect(r.statusCode).toBe(202);
    });

    it('should refuse a member name given twice', async () => {
      await expectInvalidValue(
        '{"value":{"a":1,"a":2}}',
        'the member name "a" appears twice in the object at /value; an object keeps one value per name',
      );
    });

    it('should apply the same rules to PUT /store', async () => {
      await expectInvalidValue(
        '{"key":"k","value":[1e400]}',
        'the number 1e400 at /value/0 is out of range: keyflow stores numbers as IEEE 754 doubles, ' +
          'whose magnitude is at most 1.7976931348623157e+308',
        '/store',
      );
    });

    it('should check a body behind two byte order marks, of which the decoder and the parser each skip one', async () => {
      const r = await put('/v1/kv/k', '\ufeff\ufeff{"value":1e400}');
      expect(r.statusCode).toBe(400);
      expect(fakeKv.put).not.toHaveBeenCalled();
    });

    it('should refuse a body that is not UTF-8 rather than replace its bytes', async () => {
      const r = await put('/v1/kv/k', Buffer.from([...Buffer.from('{"value":"a'), 0xff, ...Buffer.from('"}')]));
      expect(r.statusCode).toBe(400);
      expect(r.json()).toEqual(
        problem(
          400,
          'malformed-json',
          'Malformed JSON',
          'the body is not well-formed UTF-8, which JSON must be',
          '/v1/kv/k',
        ),
      );
    });

    it('should still answer malformed JSON and a forbidden prototype property as before', async () => {
      const malformed = problem(
        400,
        'malformed-json',
        'Malformed JSON',
        "Body is not valid JSON but content-type is set to 'application/json'",
        '/v1/kv/k',
      );
      expect((await put('/v1/kv/k', '{"value":')).json()).toEqual(malformed);
      expect((await put('/v1/kv/k', '{"value":{"__proto__":{"x":1}}}')).json()).toEqual(malformed);
    });
  });

  describe('If-Match', () => {
    it('should refuse a weak entity tag with 412 before the write is accepted (RFC 9110: strong comparison)', async () => {
      const r = await put('/v1/kv/k', '{"value":1}', { 'if-match': 'W/"3"' });
      expect(r.statusCode).toBe(412);
      expect(r.json()).toEqual(
        problem(
          412,
          'precondition-failed',
          'Precondition failed',
          'If-Match: W/"3" is a weak entity tag, which never matches: If-Match compares strongly (RFC 9110 ' +
            'section 13.1.1); send the version as a strong tag, such as "3"',
          '/v1/kv/k',
        ),
      );
      expect(fakeKv.put).not.toHaveBeenCalled();
    });
  });

  describe('Content-Encoding', () => {
    it('should refuse a compressed body with 415 and say that no coding is supported', async () => {
      const r = await put('/v1/kv/k', gzipSync('{"value":1}'), { 'content-encoding': 'gzip' });
      expect(r.statusCode).toBe(415);
      expect(r.headers['accept-encoding']).toBe('identity');
      expect(r.json()).toEqual(
        problem(
          415,
          'unsupported-media-type',
          'Unsupported media type',
          'the body is sent with Content-Encoding: gzip; keyflow takes request bodies without a content coding ' +
            '(identity) only',
          '/v1/kv/k',
        ),
      );
      expect(fakeKv.put).not.toHaveBeenCalled();
    });

    it('should take Content-Encoding: identity as no coding', async () => {
      expect((await put('/v1/kv/k', '{"value":1}', { 'content-encoding': 'identity' })).statusCode).toBe(202);
    });
  });

  describe('methods', () => {
    it('should answer 405 with Allow for a known path and a method it does not take', async () => {
      const r = await app.inject({ method: 'POST', url: '/v1/kv/k', payload: { value: 1 } });
      expect(r.statusCode).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD, PUT, DELETE');
      expect(r.headers['x-served-by']).toBe('api-test');
      expect(r.json()).toEqual(
        problem(
          405,
          'method-not-allowed',
          'Method not allowed',
          '/v1/kv/k does not take POST; it takes GET, HEAD, PUT, DELETE',
          '/v1/kv/k',
        ),
      );
      const store = await app.inject({ method: 'PATCH', url: '/store' });
      expect(store.statusCode).toBe(405);
      expect(store.headers.allow).toBe('PUT');
    });

    it('should still answer 404 for an unknown path', async () => {
      const r = await app.inject({ method: 'POST', url: '/v2/nothing' });
      expect(r.statusCode).toBe(404);
      expect(r.json()).toEqual(problem(404, 'not-found', 'Not found', 'Cannot POST /v2/nothing', '/v2/nothing'));
    });
  });

  describe('framework errors', () => {
    it('should answer a bad percent-encoding in the URL with a problem document', async () => {
      const r = await app.inject({ method: 'GET', url: '/v1/kv/%E0%A4%A' });
      expect(r.statusCode).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.headers['x-served-by']).toBe('api-test');
      expect(r.json()).toEqual(
        problem(
          400,
          'invalid-request',
          'Invalid request',
          'the URL path is not valid percent-encoded UTF-8 (a key like "a/b é" is sent as a%2Fb%20%C3%A9)',
          '/v1/kv/%E0%A4%A',
        ),
      );
    });

    it('should answer a request that is not HTTP with a problem document', async () => {
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as AddressInfo;
      const answer = await new Promise<string>((resolve, reject) => {
        let text = '';
        const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP\r\n\r\n'));
        socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(head).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
      expect(JSON.parse(body)).toEqual({
        type: 'about:blank',
        title: 'Bad request',
        status: 400,
        detail: 'the request is not valid HTTP/1.1',
      });
    });
  });
});

describe(`${createHttpApp.name} under memory pressure`, () => {
  let shedding: NestFastifyApplication;

  beforeAll(async () => {
    // A heap limit of one byte: the process is under pressure from the first sample on.
    shedding = await createHttpApp(
      {
        module: class SheddingTestModule {},
        controllers: [KvController],
        providers: [{ provide: KvService, useValue: fakeKv }],
      },
      {
        instance: 'api-test',
        logger: false,
        loadShedding: { maxHeapUsedBytes: 1, maxRssBytes: 0, retryAfterSeconds: 3, sampleIntervalMs: 10 },
      },
    );
    actAs(shedding);
    await shedding.init();
    await shedding.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await shedding.close();
  });

  it('should answer 503 problem+json with Retry-After, and not reach the service', async () => {
    await pollUntil(
      () => shedding.inject({ method: 'GET', url: '/v1/kv/k' }),
      (response) => response.statusCode !== 200,
      { what: 'the first memory sample', timeoutMs: 5_000, intervalMs: 10 },
    );
    fakeKv.get.mockClear();
    const r = await shedding.inject({ method: 'GET', url: '/v1/kv/k' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('3');
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.json()).toEqual({
      type: 'about:blank',
      title: 'Service unavailable',
      status: 503,
      detail: 'this API instance is short of memory (heap in use above its limit); retry in 3 s',
      instance: '/v1/kv/k',
      requestId: expect.any(String),
    });
    expect(fakeKv.get).not.toHaveBeenCalled();
  });

  it('should still answer liveness checks, so the supervisor does not restart a process that is only busy', async () => {
    await pollUntil(
      () => shedding.inject({ method: 'GET', url: '/v1/kv/k' }),
      (response) => response.statusCode === 503,
      { what: 'the first memory sample', timeoutMs: 5_000, intervalMs: 10 },
    );
    // No health controller in this module: a 404 shows the request went past the shedder.
    const r = await shedding.inject({ method: 'GET', url: '/health/live' });
    expect(r.statusCode).toBe(404);
  });
});
