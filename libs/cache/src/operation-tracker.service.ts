import type { Cluster } from 'ioredis';
import type { OperationType } from '@keyflow/contracts';

export interface AcceptedOperation {
  id: string;
  key: string;
  type: OperationType;
  acceptedAt: string;
  /** The user whose request made it (see `WriteMessage.owner`). */
  owner?: string;
}

export interface OperationTrackerOptions {
  /** How long an accepted operation is remembered while it waits to be applied (a backlog, a stalled shard). */
  pendingTtlSeconds?: number;
  /** How long it is remembered once a worker recorded its outcome in the database. */
  finishedTtlSeconds?: number;
}

/**
 * Remembers operations that were accepted (confirmed by the broker) but may not be applied yet, so
 * `GET /v1/operations/{id}` can answer `accepted` before the worker records the outcome in the database.
 *
 * The contract the API relies on: a record here means the broker confirmed the operation, and the API answers
 * `202` only after this record was written. So every operation a client was told is accepted can be found,
 * here until it is applied and in the database after. It is also how a repeated idempotent request tells an
 * operation that is known to be in the queue (answer from the record) from one whose publish may have been
 * lost (re-send it). A record's content never changes, only how long it lives.
 *
 * Memory: a record lives `pendingTtlSeconds` (24 h) only while its operation waits in a queue. Once a worker
 * recorded the outcome in the database (which the API reads from the primary, so it is authoritative from then
 * on), the worker cuts the record to `finishedTtlSeconds` (60 s) with `markFinished`. So the records in Redis
 * are about (write rate × 60 s) plus the backlog, not (write rate × 24 h).
 */
export class OperationTracker {
  private readonly pendingTtlSeconds: number;
  private readonly finishedTtlSeconds: number;

  constructor(
    private readonly redis: Cluster,
    options: OperationTrackerOptions = {},
    private readonly prefix = 'op:',
  ) {
    this.pendingTtlSeconds = options.pendingTtlSeconds ?? 86_400;
    this.finishedTtlSeconds = options.finishedTtlSeconds ?? 60;
  }

  /** Records a confirmed operation. Idempotent: a re-sent operation keeps its first record (and its TTL). */
  async markAccepted(op: AcceptedOperation): Promise<void> {
    await this.redis.set(this.prefix + op.id, JSON.stringify(op), 'EX', this.pendingTtlSeconds, 'NX');
  }

  /**
   * Called by the worker once the operations' outcomes are in the database: their records now live only
   * `finishedTtlSeconds`. The record is written whether it exists or not, with the same content: a worker can
   * finish an operation before the API that published it wrote its record, and that late `markAccepted`
   * (`NX`) must then find this short-lived one instead of creating a 24-hour one.
   */
  async markFinished(ops: AcceptedOperation[]): Promise<void> {
    await Promise.all(
      ops.map((op) => this.redis.set(this.prefix + op.id, JSON.stringify(op), 'EX', this.finishedTtlSeconds)),
    );
  }

  async findAccepted(id: string): Promise<AcceptedOperation | undefined> {
    const raw = await this.redis.get(this.prefix + id);
    return raw ? (JSON.parse(raw) as AcceptedOperation) : undefined;
  }
}
