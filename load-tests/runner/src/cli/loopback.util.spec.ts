import { describe, expect, it } from 'vitest';
import { assertLoadableTarget, isLoopbackHost, RemoteTargetError } from './loopback.util';

describe('loopback.util', () => {
  describe(isLoopbackHost.name, () => {
    it('should accept every loopback spelling', () => {
      for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]', '::1', '::ffff:127.0.0.1', 'api.localhost']) {
        expect(isLoopbackHost(host)).toBe(true);
      }
    });

    it('should reject other addresses and names', () => {
      for (const host of [
        '10.0.0.1',
        '0.0.0.0',
        '128.0.0.1',
        'example.com',
        'localhost.example.com',
        '::2',
        '[::ffff:10.0.0.1]',
      ]) {
        expect(isLoopbackHost(host)).toBe(false);
      }
    });
  });

  describe(assertLoadableTarget.name, () => {
    it('should refuse a remote target unless allowed', () => {
      expect(() => assertLoadableTarget('http://10.1.2.3:8080', false)).toThrow(RemoteTargetError);
      expect(() => assertLoadableTarget('http://10.1.2.3:8080', true)).not.toThrow();
      expect(() => assertLoadableTarget('http://127.0.0.1:8080', false)).not.toThrow();
    });
  });
});
