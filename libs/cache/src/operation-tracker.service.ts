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
 * Best effort by design: the database is the record of finished operations; this only covers the gap.
 */
export class OperationTracker {
  constructor(
    private readonly redis: Cluster,
    private readonly ttlSeconds = 86_400,
    private readonly prefix = 'op:',
  ) {}

  async markAccepted(op: AcceptedOperation): Promise<void> {
    await this.redis.set(this.prefix + op.id, JSON.stringify(op), 'EX', this.ttlSeconds, 'NX');
  }

  async findAccepted(id: string): Promise<AcceptedOperation | undefined> {
    const raw = await this.redis.get(this.prefix + id);
    return raw ? (JSON.parse(raw) as AcceptedOperation) : undefined;
  }
}
