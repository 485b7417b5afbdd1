import type { Pool } from 'pg';
import type { OperationType } from '@keyflow/contracts';
import { DELETE_EXPIRED_OPERATIONS, RECORD_FAILED, SELECT_OPERATION } from './operation.sql';

export interface OperationRecord {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'conflict' | 'failed';
  version?: number;
  error?: string;
  acceptedAt: string;
  finishedAt: string;
}

interface OperationRow {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'conflict' | 'failed';
  version: string | null;
  error: string | null;
  accepted_at: Date;
  finished_at: Date;
}

export class OperationRepository {
  constructor(private readonly pool: Pool) {}

  async find(id: string): Promise<OperationRecord | undefined> {
    const result = await this.pool.query<OperationRow>(SELECT_OPERATION, [id]);
    const row = result.rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      key: row.key,
      type: row.type,
      status: row.status,
      ...(row.version !== null ? { version: Number(row.version) } : {}),
      ...(row.error !== null ? { error: row.error } : {}),
      acceptedAt: row.accepted_at.toISOString(),
      finishedAt: row.finished_at.toISOString(),
    };
  }

  /** Records a dead-lettered operation. An operation that already has an outcome keeps it. */
  async recordFailed(
    op: { id: string; key: string; type: OperationType; acceptedAt: string },
    error: string,
  ): Promise<void> {
    await this.pool.query(RECORD_FAILED, [op.id, op.key, op.type, error, op.acceptedAt, new Date().toISOString()]);
  }

  /** Deletes up to `limit` operations finished before `before`; returns how many went. */
  async deleteFinishedBefore(before: Date, limit = 1_000): Promise<number> {
    const result = await this.pool.query(DELETE_EXPIRED_OPERATIONS, [before.toISOString(), limit]);
    return result.rowCount ?? 0;
  }
}
