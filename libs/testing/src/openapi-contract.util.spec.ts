import { describe, expect, it } from 'vitest';
import { ResponseContract, type OpenApiDocument } from './openapi-contract.util';

const document: OpenApiDocument = {
  paths: {
    '/v1/kv/{key}': {
      get: {
        responses: {
          '200': {
            headers: { ETag: { schema: { type: 'string' } } },
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Entry' } } },
          },
          '404': { content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } },
        },
      },
      delete: { responses: { '204': {}, '4XX': {} } },
    },
    '/v1/kv': { get: { responses: { '200': { content: { 'application/json': { schema: { type: 'object' } } } } } } },
  },
  components: {
    schemas: {
      Entry: {
        type: 'object',
        required: ['key', 'version'],
        properties: {
          key: { type: 'string' },
          version: { type: 'integer' },
          expiresAt: { type: 'string', format: 'date-time', nullable: true },
        },
      },
      Problem: { type: 'object', required: ['status'], properties: { status: { type: 'integer' } } },
    },
  },
};

const contract = new ResponseContract(document);

function headers(values: Record<string, string>): Headers {
  return new Headers({ 'x-served-by': 'api-1', ...values });
}

describe(ResponseContract.name, () => {
  it('should accept an answer that matches the document', () => {
    const h = headers({ 'content-type': 'application/json; charset=utf-8', etag: '"3"' });
    expect(contract.check('GET', '/v1/kv/user%3A42?consistency=strong', 200, h, '{"key":"a","version":3}')).toEqual([]);
  });

  it('should name an undocumented status, a missing header, a wrong content type and a body that does not match', () => {
    const json = headers({ 'content-type': 'application/json' });
    expect(contract.check('GET', '/v1/kv/a', 500, json, '{}')).toEqual([
      'GET /v1/kv/{key} → 500: status not documented (documented: 200, 404)',
    ]);
    expect(contract.check('GET', '/v1/kv/a', 200, json, '{"key":"a","version":1}')).toEqual([
      'GET /v1/kv/{key} → 200: documented header ETag missing',
    ]);
    expect(contract.check('GET', '/v1/kv/a', 404, json, '{"status":404}')).toEqual([
      'GET /v1/kv/{key} → 404: content type application/json not documented (application/problem+json)',
    ]);
    const bad = contract.check(
      'GET',
      '/v1/kv/a',
      200,
      headers({ 'content-type': 'application/json', etag: '"1"' }),
      '{"key":1}',
    );
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(
      /does not match the documented schema: \/ must have required property 'version'; \/key must be string/,
    );
  });

  it('should match a status range, pick the most literal path, and leave undocumented paths and gateway answers alone', () => {
    expect(contract.check('DELETE', '/v1/kv/a', 412, headers({}), '')).toEqual([]);
    expect(contract.check('GET', '/v1/kv', 200, headers({ 'content-type': 'application/json' }), '{}')).toEqual([]);
    expect(contract.check('GET', '/metrics', 200, headers({ 'content-type': 'text/plain' }), 'x 1')).toEqual([]);
    expect(contract.check('GET', '/v1/kv/a', 502, new Headers({ 'content-type': 'text/html' }), '<html>')).toEqual([]);
  });

  it('should check formats', () => {
    const h = headers({ 'content-type': 'application/json', etag: '"1"' });
    const bad = contract.check('GET', '/v1/kv/a', 200, h, '{"key":"a","version":1,"expiresAt":"tomorrow"}');
    expect(bad).toEqual([
      'GET /v1/kv/{key} → 200: the body does not match the documented schema: /expiresAt must match format "date-time"',
    ]);
  });

  it('should let OpenAPI 3.0 nullable properties be null', () => {
    const h = headers({ 'content-type': 'application/json', etag: '"1"' });
    expect(contract.check('GET', '/v1/kv/a', 200, h, '{"key":"a","version":1,"expiresAt":null}')).toEqual([]);
  });
});
