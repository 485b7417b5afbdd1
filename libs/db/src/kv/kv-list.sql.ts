/**
 * One page of live keys in a key range, for `GET /v1/kv?prefix=`: keyset paging on the primary key.
 *
 * Parameters, in this order: the prefix (the range's inclusive lower bound; '' for every key); the last key of the
 * previous page (exclusive), when paging on; the successor of the prefix (`prefixSuccessor`, exclusive upper
 * bound), when there is one; how many rows (the page's limit plus one, so the caller knows if another page follows).
 *
 * Byte order, and the primary-key index. The bounds are plain comparisons on `key` with the column's own
 * collation, no LIKE, no COLLATE: that is what lets PostgreSQL scan the primary-key B-tree (`kv_entries_pkey`)
 * from the first key in range and stop after $4 live rows, already in `ORDER BY key` order (no sort; an
 * `Index Scan using kv_entries_pkey`, see the repository's integration spec, which checks the plan). A COLLATE "C"
 * here would not match the index's collation and would turn the scan into a sort of the whole range. The order
 * is still UTF-8 byte order: keyflow's PostgreSQL cluster is initialised with locale C.UTF-8, whose collation
 * orders by code point, which for UTF-8 is byte order (the integration spec checks that too, with keys whose
 * order a linguistic collation would change); CockroachDB compares STRING by bytes, always.
 *
 * Deleted keys (tombstones) and keys whose `expires_at` has passed are filtered in the scan: they never appear,
 * even before a worker has deleted an expired key through the write path.
 */
export function selectLivePage({
  after,
  below,
  keysOnly,
}: {
  /** Whether the page continues after a key (the cursor's): `key > $n`, exclusive. */
  after: boolean;
  /** Whether the range is bounded above (the prefix has a successor): `key < $n`, exclusive. */
  below: boolean;
  /** Leave the values out: they are then not even read into the result. */
  keysOnly: boolean;
}): string {
  // Bounds as separate conditions, never `$n IS NULL OR key > $n`: each one is then an index bound for both
  // databases' planners, whatever plan (generic or custom) a prepared statement gets.
  const bounds = ['key >= $1::TEXT'];
  let n = 1;
  if (after) bounds.push(`key > $${++n}::TEXT`);
  if (below) bounds.push(`key < $${++n}::TEXT`);
  return `
SELECT key, ${keysOnly ? 'NULL::TEXT' : 'value::TEXT'} AS value_json, version::TEXT AS version, updated_at, expires_at
FROM kv_entries
WHERE ${bounds.join('\n  AND ')}
  AND NOT deleted
  AND (expires_at IS NULL OR expires_at > now())
ORDER BY key
LIMIT $${n + 1}`;
}
