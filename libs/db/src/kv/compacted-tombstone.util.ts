import { createHash } from 'node:crypto';

/**
 * What is left of a compacted tombstone (`kv_compacted_tombstones`): the key's last version and when it was
 * deleted, found by a 64-bit hash of the key instead of the key itself (8 bytes instead of up to 512, and none of
 * the row's other columns or its index entries).
 */
export interface CompactedTombstone {
  keyHash: string;
  version: number;
  deletedAt: string;
}

/**
 * The first 8 bytes of the key's SHA-256 as a signed 64-bit integer, in decimal (a `BIGINT` parameter). Stable
 * across processes and releases: compacted tombstones are found by it. Two keys sharing a hash (about one chance
 * in 10^19 per pair) would share one record: the re-created one would continue from the higher version, a gap
 * but never a repeated version.
 */
export function keyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest().readBigInt64BE(0).toString();
}

/** The records a batch of tombstones compacts into: one per hash (one upsert may not touch a row twice). */
export function compactedTombstonesOf(
  tombstones: Array<{ key: string; version: number; deletedAt: string }>,
  hash: (key: string) => string = keyHash,
): CompactedTombstone[] {
  const byHash = new Map<string, CompactedTombstone>();
  for (const { key, version, deletedAt } of tombstones) {
    const h = hash(key);
    const seen = byHash.get(h);
    byHash.set(h, {
      keyHash: h,
      version: Math.max(seen?.version ?? 0, version),
      deletedAt: seen && Date.parse(seen.deletedAt) > Date.parse(deletedAt) ? seen.deletedAt : deletedAt,
    });
  }
  return [...byHash.values()];
}
