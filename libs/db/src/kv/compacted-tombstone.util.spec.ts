import { describe, expect, it } from 'vitest';
import { compactedTombstonesOf, keyHash } from './compacted-tombstone.util';

describe(keyHash.name, () => {
  it('should give a key the same hash in every process and release (compacted tombstones are found by it)', () => {
    expect(keyHash('user:42')).toBe('-1567300791643570846');
    expect(keyHash('a')).toBe('-3848465438864589366');
  });

  it('should fit a signed 64-bit BIGINT', () => {
    for (const key of ['', 'k', 'é', '🙂'.repeat(100), 'x'.repeat(512)]) {
      const hash = BigInt(keyHash(key));
      expect(hash >= -(2n ** 63n) && hash < 2n ** 63n).toBe(true);
    }
  });
});

describe(compactedTombstonesOf.name, () => {
  it('should keep, per hash, the highest version and the latest deletion (one row each, for one upsert)', () => {
    const rows = compactedTombstonesOf(
      [
        { key: 'a', version: 3, deletedAt: '2026-11-01T00:00:00.000Z' },
        { key: 'b', version: 9, deletedAt: '2026-11-02T00:00:00.000Z' },
        { key: 'c', version: 5, deletedAt: '2026-11-03T00:00:00.000Z' },
      ],
      // Two keys sharing a hash is astronomically unlikely; a constant hash shows what happens if they do.
      (key) => (key === 'a' ? '1' : '2'),
    );
    expect(rows).toEqual([
      { keyHash: '1', version: 3, deletedAt: '2026-11-01T00:00:00.000Z' },
      { keyHash: '2', version: 9, deletedAt: '2026-11-03T00:00:00.000Z' },
    ]);
  });
});
