import { describe, expect, it } from 'vitest';
import { makeValue, pickOperation, requestFor, valueOf } from './kv-request.util';

describe('kv-request.util', () => {
  describe(pickOperation.name, () => {
    it('should pick operations in proportion to their weights', () => {
      const counts = { get: 0, put: 0, delete: 0 };
      for (let i = 0; i < 1000; i++) counts[pickOperation({ get: 95, put: 5, delete: 0 }, i / 1000)]++;
      expect(counts).toEqual({ get: 950, put: 50, delete: 0 });
    });

    it('should never pick an operation of weight 0', () => {
      expect(pickOperation({ get: 0, put: 1, delete: 0 }, 0)).toBe('put');
      expect(pickOperation({ get: 1, put: 0, delete: 0 }, 0.999_999)).toBe('get');
    });
  });

  describe(requestFor.name, () => {
    it.each([
      {
        contract: 'keyflow v1',
        put: requestFor('v1', 'put', 'a b', 'x', false),
        expected: { method: 'PUT', path: '/v1/kv/a%20b', body: '{"value":"x"}', expectedStatuses: [202] },
      },
      {
        contract: 'reference-store',
        put: requestFor('store', 'put', 'k', 'x', false),
        expected: { method: 'PUT', path: '/store', body: '{"key":"k","value":"x"}', expectedStatuses: [200] },
      },
    ])('should send a PUT by the $contract contract', ({ put, expected }) => {
      expect(put).toEqual(expected);
    });

    it('should accept a 404 only from a GET that may miss, and a 202 from a v1 DELETE', () => {
      expect(requestFor('v1', 'get', 'k', '', true).expectedStatuses).toEqual([200, 404]);
      expect(requestFor('v1', 'delete', 'k', '', false)).toMatchObject({ method: 'DELETE', expectedStatuses: [202] });
      expect(requestFor('store', 'get', 'k', '', false)).toEqual({
        method: 'GET',
        path: '/store/k',
        expectedStatuses: [200],
      });
    });
  });

  describe(makeValue.name, () => {
    it('should pad to the value size and read back through valueOf', () => {
      const value = makeValue('vu1:7:', 32);
      expect(value).toHaveLength(32);
      expect(valueOf(JSON.stringify({ key: 'k', value }))).toBe(value);
      expect(valueOf('not json')).toBeUndefined();
    });
  });
});
