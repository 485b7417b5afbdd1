import type { DeadLetterRecord, KvLastWrite } from '@keyflow/db';
import type { ReplayState, ReplayStore } from '../replay-store.service';

/**
 * The database as the tool sees it: operation records and each key's last write. `authorize` follows the SQL's
 * contract (only a `failed` record can be authorised; a missing one is created), and `letterRemoved` clears the
 * mark only while it is the one the tool read.
 */
export class FakeReplayStore implements ReplayStore {
  readonly records = new Map<string, DeadLetterRecord>();
  readonly lastWrites = new Map<string, KvLastWrite>();
  readonly authorized: Array<{ id: string; atVersion: number }> = [];
  readonly released: string[] = [];
  /** Called before a release is accepted; the specs use it to check the letter's removal reached the broker. */
  onRelease?: (operationId: string) => void;
  private clock = Date.parse('2026-12-01T00:00:00.000Z');

  inspect(operationId: string, key?: string): Promise<ReplayState> {
    const record = this.records.get(operationId);
    const lastWrite = key === undefined ? undefined : this.lastWrites.get(key);
    return Promise.resolve({ ...(record ? { record } : {}), ...(lastWrite ? { lastWrite } : {}) });
  }

  authorize(
    op: { id: string; key: string; type: 'put' | 'delete'; acceptedAt: string },
    atVersion: number,
  ): Promise<string | undefined> {
    const record = this.records.get(op.id);
    if (record && record.status !== 'failed') return Promise.resolve(undefined);
    const deadLetteredAt = record?.deadLetteredAt ?? new Date(this.clock++).toISOString();
    this.records.set(op.id, { id: op.id, key: op.key, status: 'failed', deadLetteredAt, replayAtVersion: atVersion });
    this.authorized.push({ id: op.id, atVersion });
    return Promise.resolve(deadLetteredAt);
  }

  letterRemoved(operationId: string, deadLetteredAt: string): Promise<void> {
    this.onRelease?.(operationId);
    const record = this.records.get(operationId);
    if (record?.deadLetteredAt === deadLetteredAt) {
      const { deadLetteredAt: _gone, ...rest } = record;
      this.records.set(operationId, rest);
      this.released.push(operationId);
    }
    return Promise.resolve();
  }
}
