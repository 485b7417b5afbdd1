import type { Cluster } from 'ioredis';
import type { OperationType } from '@keyflow/contracts';

export interface AcceptedOperation {
  id: string;
  key: string;
  type: OperationType;
  acceptedAt: string;
}

/**
 * Remembers operations that were accepted (confirmed by the broker) but may not be applied yet, so
 * `GET /v1/operations/{id}` can answer `accepted` before the worker records the outcome in the database.
 *
 * The contract the API relies on: a record here means the broker confirmed the operation, and the API answers
 * `202` only after this record was written. So every operation a client was told is accepted can be found,
 * here until it is applied and in the database after. It is also how a repeated idempotent request tells an
 * operation that is known to be in the queue (answer from the record) from one whose publish may have been
 * lost (re-send it). Records are only ever added, never changed, so there is nothing to keep consistent.
 */
export class OperationTracker {
  constructor(
    private readonly redis: Cluster,
    private readonly ttlSeconds = 86_400,
    private readonly prefix = 'op:',
  ) {}

  /** Records a confirmed operation. Idempotent: a re-sent operation keeps its first record. */
  async markAccepted(op: AcceptedOperation): Promise<void> {
    await this.redis.set(this.prefix + op.id, JSON.stringify(op), 'EX', this.ttlSeconds, 'NX');
  }

  async findAccepted(id: string): Promise<AcceptedOperation | undefined> {
    const raw = await this.redis.get(this.prefix + id);
    return raw ? (JSON.parse(raw) as AcceptedOperation) : undefined;
  }
}
