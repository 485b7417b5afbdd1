/**
 * Keys are hashed to a fixed number of shard queues; every write to one key goes through the same queue,
 * which is what gives per-key order. FNV-1a (32 bit) over the UTF-8 bytes: stable across processes,
 * languages and restarts. Changing the shard count re-maps keys, so it is fixed per deployment.
 */
export function shardOf(key: string, shards: number): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(key, 'utf8');
  for (const byte of bytes) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

export function shardQueueName(shard: number): string {
  return `kv.shard.${shard}`;
}

/** Dead letters go to a fanout exchange, bound to the operators' queue and to the workers' audit queue. */
export const DEAD_LETTER_EXCHANGE = 'kv.dead-letter';
/** Held for operators: `npm run dlq -- list|replay|purge`. */
export const DEAD_LETTER_QUEUE = 'kv.dead-letter';
/** Consumed by workers to record each dead-lettered operation as `failed`, with the reason. */
export const DEAD_LETTER_AUDIT_QUEUE = 'kv.dead-letter.audit';

/**
 * Headers of a dead letter a worker published itself (one write taken out of a batch message), next to the
 * `x-first-death-*` headers the broker sets on what it dead-letters. RabbitMQ 3.13 and later treat `x-` headers as
 * the broker's own and may drop a client's, so what `npm run dlq` and the workers' audit read comes in these.
 */
export const DEAD_LETTER_HEADERS = {
  /** `worker`: the worker that rejected the write published the letter (and recorded and reported its failure). */
  by: 'keyflow-dead-lettered-by',
  reason: 'keyflow-dead-letter-reason',
  queue: 'keyflow-dead-letter-queue',
  /** ISO time. */
  at: 'keyflow-dead-lettered-at',
} as const;
