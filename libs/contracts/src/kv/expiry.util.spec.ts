import { describe, expect, it } from 'vitest';
import { describeBadTtl, expiresAtFor, expiryOperationId, hasExpired, MAX_TTL_SECONDS } from './expiry.util';

describe('expiry.util', () => {
  describe(describeBadTtl.name, () => {
    it('should take whole seconds from 1 to the maximum', () => {
      for (const ttl of [1, 2, 3_600, MAX_TTL_SECONDS]) expect(describeBadTtl(ttl)).toBeUndefined();
    });

    it('should refuse zero, negatives, fractions, strings, null and anything past the maximum', () => {
      for (const ttl of [0, -1, 1.5, '2', null, true, {}, [], Number.NaN, Infinity, MAX_TTL_SECONDS + 1, 2 ** 60]) {
        expect(describeBadTtl(ttl)).toBe(
          'ttl must be a whole number of seconds from 1 to 31536000 (365 days), sent as a JSON number',
        );
      }
    });
  });

  describe(expiresAtFor.name, () => {
    it('should add the time to live to the time the write was accepted', () => {
      expect(expiresAtFor('2026-12-01T10:00:00.250Z', 2)).toBe('2026-12-01T10:00:02.250Z');
      expect(expiresAtFor('2026-12-31T23:59:59.999Z', 86_400)).toBe('2027-01-01T23:59:59.999Z');
    });
  });

  describe(hasExpired.name, () => {
    const now = Date.parse('2026-12-01T10:00:02.000Z');

    it('should say a key expired from its expiresAt on, and never for a key without one', () => {
      expect(hasExpired('2026-12-01T10:00:01.999Z', now)).toBe(true);
      expect(hasExpired('2026-12-01T10:00:02.000Z', now)).toBe(true);
      expect(hasExpired('2026-12-01T10:00:02.001Z', now)).toBe(false);
      expect(hasExpired(undefined, now)).toBe(false);
      expect(hasExpired(null, now)).toBe(false);
      expect(hasExpired('', now)).toBe(false);
    });
  });

  describe(expiryOperationId.name, () => {
    it('should give one UUID per key and version, the same every time', () => {
      const id = expiryOperationId('user:42', 3);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(expiryOperationId('user:42', 3)).toBe(id);
      expect(expiryOperationId('user:42', 4)).not.toBe(id);
      expect(expiryOperationId('user:43', 3)).not.toBe(id);
    });
  });
});
