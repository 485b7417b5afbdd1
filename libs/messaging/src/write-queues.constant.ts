import { DEAD_LETTER_EXCHANGE } from '@keyflow/contracts';

/**
 * The `x-delivery-limit` argument shard queues were declared with before keyflow counted failed applies itself.
 * Queues that still carry it are "legacy": see `WriteTopology` and `migrateShardQueues`.
 */
export const LEGACY_DELIVERY_LIMIT = 5;

/**
 * Header of the probe message `migrateShardQueues` sends through an empty shard queue. It is not a write: a worker
 * that receives one acks it and does nothing else.
 */
export const MIGRATION_SENTINEL_HEADER = 'x-keyflow-migration-sentinel';

export interface WriteQueueOptions {
  /** Number of shard queues; fixed per deployment. */
  shards: number;
  /** Quorum members per queue; 3 on a 3-node cluster. */
  replicas?: number;
}

/**
 * Queue arguments shared by publisher and consumer; RabbitMQ refuses a declaration whose arguments differ
 * from the existing queue's, so both sides must build them here.
 * - quorum: replicated to a majority before the publisher confirm, so a confirmed write survives a node loss;
 * - single-active-consumer: one worker applies a shard at a time, which is what gives per-key order;
 * - at-least-once dead-lettering: a message a worker rejects leaves the shard for the dead-letter exchange
 *   instead of blocking it, and is not lost on the way. The exchange fans out to the operators' queue and to the
 *   audit queue the workers read to mark the operation failed.
 *
 * No `x-delivery-limit`, on purpose. A quorum queue counts every return of a delivery against it — the unacked
 * prefetch of a worker that restarts, hands a shard over or loses its connection — so with a prefetch of 500 a few
 * restarts during a backlog dead-lettered hundreds of writes nobody had even tried (RabbitMQ before 4.3 counts
 * returns; 4.3 counts only rejections). The worker decides instead (`apps/worker`, "Poison messages"): it counts
 * the attempts that really failed, per operation, and dead-letters a write itself; the broker's own count only
 * serves it as a safety net against a write that crashes every worker that takes it. Without the argument a
 * `delivery-limit` policy can still be set, and changed, on the live queues (an argument can never change, and
 * RabbitMQ applies the smaller of argument and policy, so a policy cannot raise it).
 */
export function shardQueueArguments(options: WriteQueueOptions): Record<string, unknown> {
  return {
    'x-queue-type': 'quorum',
    'x-single-active-consumer': true,
    'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
    'x-quorum-initial-group-size': options.replicas ?? 3,
  };
}

/** The dead-letter queues: quorum, with no delivery limit (`npm run dlq` puts back every letter it keeps). */
export function deadLetterQueueArguments(options: WriteQueueOptions): Record<string, unknown> {
  return { 'x-queue-type': 'quorum', 'x-quorum-initial-group-size': options.replicas ?? 3 };
}

/**
 * The change stream (`CHANGE_STREAM`, read by `GET /v1/watch`): a RabbitMQ stream, an append-only log replicated on
 * `replicas` nodes, whose offsets are the watch API's revisions. Declared by everyone who touches it, with these
 * arguments, like the shard queues.
 * - `x-max-age` 24h: the broker removes a segment only once every message in it is older than that, so a watcher can
 *   resume from any revision of the last 24 hours (more, up to one segment's worth);
 * - segments of 64 MB, so that retention removes history in small steps rather than 500 MB at a time;
 * - no `x-max-length-bytes`: a size limit could cut the 24 hours short. The disk holds a day of changes.
 */
export function changeStreamArguments(options: Pick<WriteQueueOptions, 'replicas'>): Record<string, unknown> {
  return {
    'x-queue-type': 'stream',
    'x-max-age': '24h',
    'x-stream-max-segment-size-bytes': 64_000_000,
    'x-initial-cluster-size': options.replicas ?? 3,
  };
}
