import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, pollUntil, readStack, stackClient } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * The public API, end to end: through the nginx gateway, two APIs, RabbitMQ, the workers, PostgreSQL and
 * the Redis cluster that `npm test` started. Asserts whole bodies, errors included.
 */
let gateway: string;
const run = randomUUID().slice(0, 8);
const key = (name: string) => `e2e-${run}-${name}`;
const UUID = expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

/** A string body is sent as it is (malformed JSON, a form); anything else as JSON. */
function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const payload = typeof body === 'string' ? { rawBody: body } : { body };
  return gatewayRequest(method, path, { ...payload, headers, gateway, timeoutMs: 60_000, expectJson: false });
}

/** The operation once a worker has applied it, followed with @keyflow/client. */
async function applied(operationId: string) {
  const operation = await stackClient({ gateway }).settled(operationId);
  expect(operation, `operation ${operationId}`).toMatchObject({ status: 'applied' });
  return operation;
}

describe('keyflow HTTP API (e2e through the gateway)', () => {
  beforeAll(() => {
    gateway = readStack().gateway;
  });

  describe('PUT, GET and DELETE /v1/kv/{key}', () => {
    it('should accept a write, apply it as version 1, then 2, and delete it', async () => {
      const k = key('lifecycle');
      const put1 = await call('PUT', `/v1/kv/${k}`, { value: { name: 'Ada', tags: ['x'] } });
      expect(put1.status).toBe(202);
      expect(put1.json).toEqual({ operationId: UUID, key: k, status: 'accepted' });
      expect(put1.headers.get('location')).toBe(`/v1/operations/${String(put1.json.operationId)}`);
      expect(put1.headers.get('x-served-by')).toMatch(/^api-\d+$/);

      const op = await applied(String(put1.json.operationId));
      expect(op).toEqual({
        id: put1.json.operationId,
        key: k,
        type: 'put',
        status: 'applied',
        version: 1,
        acceptedAt: ISO,
        finishedAt: ISO,
      });

      const get1 = await call('GET', `/v1/kv/${k}`);
      expect(get1.status).toBe(200);
      expect(get1.json).toEqual({ key: k, value: { name: 'Ada', tags: ['x'] }, version: 1, updatedAt: ISO });
      expect(get1.headers.get('etag')).toBe('"1"');

      const put2 = await call('PUT', `/v1/kv/${k}`, { value: 'second' });
      await applied(String(put2.json.operationId));
      const get2 = await pollUntil(
        () => call('GET', `/v1/kv/${k}`),
        (r) => r.json?.version === 2,
        { what: 'version 2' },
      );
      expect(get2.json).toEqual({ key: k, value: 'second', version: 2, updatedAt: ISO });

      const del = await call('DELETE', `/v1/kv/${k}`);
      expect(del.status).toBe(202);
      expect(del.json).toEqual({ operationId: UUID, key: k, status: 'accepted' });
      const delOp = await applied(String(del.json.operationId));
      expect(delOp).toMatchObject({ type: 'delete', status: 'applied', version: 3 });

      const gone = await call('GET', `/v1/kv/${k}`);
      expect(gone.status).toBe(404);
      expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(gone.json).toEqual(
        problem(404, 'key-not-found', 'Key not found', `no value is stored under key "${k}"`, `/v1/kv/${k}`),
      );
    });

    it('should read strongly from the primary right after the write is applied', async () => {
      const k = key('strong');
      const put = await call('PUT', `/v1/kv/${k}`, { value: [1, 2, 3] });
      await applied(String(put.json.operationId));
      const strong = await call('GET', `/v1/kv/${k}?consistency=strong`);
      expect(strong.json).toEqual({ key: k, value: [1, 2, 3], version: 1, updatedAt: ISO });
    });

    it('should store null, unicode keys and percent-encoded slashes', async () => {
      const k = `${key('uni')}/ключ 🙂`;
      const path = `/v1/kv/${encodeURIComponent(k)}`;
      const put = await call('PUT', path, { value: null });
      expect(put.json).toEqual({ operationId: UUID, key: k, status: 'accepted' });
      await applied(String(put.json.operationId));
      expect((await call('GET', path)).json).toEqual({ key: k, value: null, version: 1, updatedAt: ISO });
    });

    it('should read every value back exactly as written: numbers, text and 64 levels of nesting', async () => {
      const k = key('exact');
      // The value object is one level, so 63 arrays inside it make the 64 levels allowed.
      const deep = `${'['.repeat(63)}${']'.repeat(63)}`;
      const body =
        '{"value":{"n":1.50,"max":9007199254740991,"big":1e21,"huge":1.7976931348623157e308,"tiny":5e-324,' +
        `"zero":-0,"text":"é 🙂 \\u0001","deep":${deep}}}`;
      const put = await call('PUT', `/v1/kv/${k}`, body);
      expect(put.status).toBe(202);
      await applied(String(put.json.operationId));
      const read = await call('GET', `/v1/kv/${k}?consistency=strong`);
      expect(read.json).toEqual({
        key: k,
        value: {
          n: 1.5,
          max: 9007199254740991,
          big: 1e21,
          huge: 1.7976931348623157e308,
          tiny: 5e-324,
          zero: 0,
          text: 'é 🙂 \u0001',
          deep: JSON.parse(deep) as unknown,
        },
        version: 1,
        updatedAt: ISO,
      });
    });

    it('should spread requests over both API instances', async () => {
      const servedBy = new Set<string>();
      for (let i = 0; i < 20; i++) servedBy.add((await call('GET', '/health/live')).headers.get('x-served-by') ?? '');
      expect([...servedBy].sort()).toEqual(readStack().apis.map((_, i) => `api-${i + 1}`));
    });
  });

  describe('bad input', () => {
    const k = key('bad');
    const path = `/v1/kv/${k}`;

    it.each([
      {
        what: 'malformed JSON',
        request: ['PUT', path, '{"value":'] as const,
        answer: problem(
          400,
          'malformed-json',
          'Malformed JSON',
          "Body is not valid JSON but content-type is set to 'application/json'",
          path,
        ),
      },
      {
        what: 'a body that is not a JSON object',
        request: ['PUT', path, '[1,2]'] as const,
        answer: problem(
          400,
          'invalid-request',
          'Invalid request',
          'the body must be a JSON object, such as {"value": …}',
          path,
        ),
      },
      {
        what: 'a body that is not JSON (415)',
        request: ['PUT', path, 'value=1', { 'content-type': 'application/x-www-form-urlencoded' }] as const,
        answer: problem(415, 'unsupported-media-type', 'Unsupported media type', 'Unsupported Media Type', path),
      },
      {
        what: 'a bad query parameter',
        request: ['GET', `${path}?consistency=sometimes`] as const,
        answer: problem(400, 'invalid-request', 'Invalid request', 'consistency must be eventual or strong', path),
      },
      {
        what: 'an unknown route (404)',
        request: ['GET', '/v2/nothing'] as const,
        answer: problem(404, 'not-found', 'Not found', 'Cannot GET /v2/nothing', '/v2/nothing'),
      },
    ])('should answer $what with its problem document', async ({ request: [method, url, body, headers], answer }) => {
      const r = await call(method, url, body, headers);
      expect({ status: r.status, json: r.json }).toEqual({ status: answer.status, json: answer });
    });

    it('should refuse with 400 every value keyflow cannot store as written, and write nothing', async () => {
      const doubles = 'keyflow stores numbers as IEEE 754 doubles';
      const cases: Array<[name: string, body: string, detail: string]> = [
        [
          'long-integer',
          '{"value":12345678901234567890123}',
          `the number 12345678901234567890123 at /value cannot be stored exactly: ${doubles} and it would read ` +
            'back as 1.2345678901234568e+22 (send it as a string to keep every digit)',
        ],
        [
          'out-of-range',
          '{"value":1e999999}',
          `the number 1e999999 at /value is out of range: ${doubles}, whose magnitude is at most 1.7976931348623157e+308`,
        ],
        [
          'nul',
          '{"value":"a\\u0000b"}',
          'the string at /value contains U+0000 (the NUL character), which keyflow cannot store',
        ],
        [
          'lone-surrogate',
          '{"value":{"s":"\\ud800"}}',
          'the string at /value/s contains a lone UTF-16 surrogate (such as \\ud800 without its pair), which is not ' +
            'Unicode text',
        ],
        [
          'deep',
          `{"value":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
          `the value is nested too deeply at /value${'/0'.repeat(64)}: arrays and objects may nest at most 64 levels deep`,
        ],
        [
          'repeated-name',
          '{"value":{"a":1,"a":2}}',
          'the member name "a" appears twice in the object at /value; an object keeps one value per name',
        ],
      ];
      for (const [name, body, detail] of cases) {
        const path = `/v1/kv/${key(`unstorable-${name}`)}`;
        const r = await call('PUT', path, body);
        expect(r.status).toBe(400);
        expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expect(r.json).toEqual(problem(400, 'invalid-value', 'Invalid value', detail, path));
        expect((await call('GET', `${path}?consistency=strong`)).status).toBe(404);
      }
      const store = await call('PUT', '/store', `{"key":"${key('unstorable-store')}","value":[1e400]}`);
      expect(store.json).toEqual(
        problem(
          400,
          'invalid-value',
          'Invalid value',
          `the number 1e400 at /value/0 is out of range: ${doubles}, whose magnitude is at most 1.7976931348623157e+308`,
          '/store',
        ),
      );
    });

    it('should answer 400 for a missing value and for unknown fields', async () => {
      const r = await call('PUT', `/v1/kv/${k}`, { val: 1 });
      expect(r.status).toBe(400);
      expect(r.json).toEqual({
        ...problem(
          400,
          'invalid-request',
          'Invalid request',
          'property val should not exist; value must be present (any JSON, null included)',
          `/v1/kv/${k}`,
        ),
        errors: ['property val should not exist', 'value must be present (any JSON, null included)'],
      });
    });

    it('should answer 400 for keys that are too long or contain control characters', async () => {
      const long = 'k'.repeat(513);
      expect((await call('PUT', `/v1/kv/${long}`, { value: 1 })).json).toEqual(
        problem(400, 'invalid-key', 'Invalid key', 'the key is 513 bytes of UTF-8; the limit is 512', `/v1/kv/${long}`),
      );
      expect((await call('GET', '/v1/kv/a%07b')).json).toEqual(
        problem(400, 'invalid-key', 'Invalid key', 'the key contains a control character', '/v1/kv/a%07b'),
      );
    });

    it('should answer 413 for a value over 1 MiB, and write nothing', async () => {
      const r = await call('PUT', `/v1/kv/${k}`, { value: 'x'.repeat(1024 * 1024) });
      expect(r.status).toBe(413);
      expect(r.json).toEqual(
        problem(
          413,
          'value-too-large',
          'Value too large',
          'the value is 1048578 bytes of JSON; the limit is 1048576 (1 MiB)',
          `/v1/kv/${k}`,
        ),
      );
      expect((await call('GET', `/v1/kv/${k}?consistency=strong`)).status).toBe(404);
    });

    it('should answer 413 as a problem document for a body larger than the gateway takes', async () => {
      const r = await call('PUT', `/v1/kv/${k}`, { value: 'x'.repeat(3 * 1024 * 1024) });
      expect(r.status).toBe(413);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.json).toMatchObject({ status: 413 });
    });

    it('should answer 415 for a body sent with a Content-Encoding, saying that none is taken', async () => {
      const r = await call('PUT', `/v1/kv/${k}`, '{"value":1}', { 'content-encoding': 'gzip' });
      expect(r.status).toBe(415);
      expect(r.headers.get('accept-encoding')).toBe('identity');
      expect(r.json).toEqual(
        problem(
          415,
          'unsupported-media-type',
          'Unsupported media type',
          'the body is sent with Content-Encoding: gzip; keyflow takes request bodies without a content coding ' +
            '(identity) only',
          `/v1/kv/${k}`,
        ),
      );
    });

    it('should answer 400 for an operation id that is not a UUID and 404 for an unknown one', async () => {
      expect((await call('GET', '/v1/operations/nope')).json).toEqual(
        problem(400, 'invalid-request', 'Invalid request', 'the operation id must be a UUID', '/v1/operations/nope'),
      );
      const id = randomUUID();
      expect((await call('GET', `/v1/operations/${id}`)).json).toEqual(
        problem(
          404,
          'operation-not-found',
          'Operation not found',
          `no operation with id ${id} is known`,
          `/v1/operations/${id}`,
        ),
      );
    });

    it('should answer 405 with Allow as a problem document for a method a known path does not take', async () => {
      const r = await call('POST', `/v1/kv/${k}`, { value: 1 });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD, PUT, DELETE');
      expect(r.json).toEqual(
        problem(
          405,
          'method-not-allowed',
          'Method not allowed',
          `/v1/kv/${k} does not take POST; it takes GET, HEAD, PUT, DELETE`,
          `/v1/kv/${k}`,
        ),
      );
      const store = await call('PATCH', '/store', { key: k, value: 1 });
      expect(store.status).toBe(405);
      expect(store.headers.get('allow')).toBe('PUT');
    });

    it('should answer 400 as a problem document for a path that does not percent-decode', async () => {
      const r = await call('GET', '/v1/kv/%FF');
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(r.json).toEqual(
        problem(
          400,
          'invalid-request',
          'Invalid request',
          'the URL path is not valid percent-encoded UTF-8 (a key like "a/b é" is sent as a%2Fb%20%C3%A9)',
          '/v1/kv/%FF',
        ),
      );
    });
  });

  describe('reference store routes', () => {
    it('should write, read and delete through /store', async () => {
      const k = key('store');
      const put = await call('PUT', '/store', { key: k, value: { n: 1 } });
      expect(put.status).toBe(200);
      expect(put.json).toEqual({ key: k, value: { n: 1 }, operationId: UUID });
      await applied(String(put.json.operationId));
      const get = await call('GET', `/store/${k}`);
      expect(get.json).toEqual({ value: { n: 1 } });
      const del = await call('DELETE', `/store/${k}`);
      expect(del.status).toBe(202);
      await applied(String(del.json.operationId));
      expect((await call('GET', `/store/${k}`)).status).toBe(404);
    });

    it('should reject a /store write without a string key', async () => {
      const r = await call('PUT', '/store', { key: 7, value: 1 });
      expect(r.json).toEqual({
        ...problem(400, 'invalid-request', 'Invalid request', 'key must be a string', '/store'),
        errors: ['key must be a string'],
      });
    });
  });

  describe('health and docs', () => {
    it('should be ready with every dependency up', async () => {
      const r = await call('GET', '/health/ready');
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        status: 'ok',
        info: { database: { status: 'up' }, redis: { status: 'up' }, rabbitmq: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' }, redis: { status: 'up' }, rabbitmq: { status: 'up' } },
      });
    });

    it('should serve Swagger UI and an OpenAPI 3 document with every route and its errors', async () => {
      const ui = await call('GET', '/docs');
      expect(ui.status).toBe(200);
      expect(ui.text).toContain('swagger');
      const doc = await call('GET', '/docs/json');
      expect(doc.json.openapi).toMatch(/^3\./);
      const paths = doc.json.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
      expect(Object.keys(paths).sort()).toEqual(
        [
          '/health/live',
          '/health/ready',
          '/store',
          '/store/{key}',
          '/v1/admin/cluster',
          '/v1/admin/dead-letters',
          '/v1/admin/dead-letters/{operationId}/replay',
          '/v1/admin/metrics',
          '/v1/auth/login',
          '/v1/auth/logout',
          '/v1/auth/me',
          '/v1/auth/password',
          '/v1/auth/session',
          '/v1/auth/tokens',
          '/v1/auth/tokens/{id}',
          '/v1/backup',
          '/v1/backup/restore',
          '/v1/kv',
          '/v1/kv/{key}',
          '/v1/operations/{id}',
          '/v1/status',
          '/v1/users',
          '/v1/users/{username}',
          '/v1/users/{username}/grants',
          '/v1/watch',
        ].sort(),
      );
      expect(Object.keys(paths['/v1/kv/{key}']?.put?.responses ?? {}).sort()).toEqual([
        '200',
        '201',
        '202',
        '400',
        '401',
        '403',
        '412',
        '413',
        '415',
        '422',
        '503',
      ]);
      expect(Object.keys(paths['/v1/kv/{key}']?.delete?.responses ?? {}).sort()).toEqual([
        '202',
        '204',
        '400',
        '401',
        '403',
        '412',
        '422',
        '503',
      ]);
      // 403: a key outside the caller's grants (issue 16).
      expect(Object.keys(paths['/v1/kv/{key}']?.get?.responses ?? {}).sort()).toEqual([
        '200',
        '400',
        '401',
        '403',
        '404',
        '503',
      ]);
    });

    it('should not expose internal endpoints through the gateway', async () => {
      expect((await call('GET', '/metrics')).status).toBe(404);
    });
  });
});
