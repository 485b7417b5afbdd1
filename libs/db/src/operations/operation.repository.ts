import type { Pool } from 'pg';
import type { OperationType } from '@keyflow/contracts';
import { insertOperations, SELECT_OPERATION } from './operation.sql';

export interface OperationRecord {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'failed';
  version?: number;
  error?: string;
  acceptedAt: string;
  finishedAt: string;
}

interface OperationRow {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'failed';
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

  /** Records a dead-lettered operation. An operation that was applied stays applied. */
  async recordFailed(op: { id: string; key: string; type: OperationType; acceptedAt: string }, error: string): Promise<void> {
    await this.pool.query(insertOperations(1), [op.id, op.key, op.type, 'failed', null, error, op.acceptedAt, new Date().toISOString()]);
  }
}
