import type { Pool } from 'pg';
import type { OperationType } from '@keyflow/contracts';
import {
  AUTHORIZE_REPLAY,
  CLEAR_DEAD_LETTER_MARK,
  DELETE_EXPIRED_OPERATIONS,
  RECORD_FAILED,
  SELECT_DEAD_LETTER_STATE,
  SELECT_OPERATION,
} from './operation.sql';

export interface OperationRecord {
  id: string;
  key: string;
  type: OperationType;
  status: 'applied' | 'conflict' | 'failed';
  version?: number;
  error?: string;
  acceptedAt: string;
  finishedAt: string;
  /** The user whose request made it; absent for workers' own writes and operations recorded before v7. */
  ownerId?: string;
}

/** What `npm run dlq` needs to know about a dead letter's operation. */
export interface DeadLetterRecord {
  id: string;
  key: string;
  status: 'applied' | 'conflict' | 'failed';
  /** The version written (applied) or found (conflict). */
  version?: number;
  /** Set while a dead letter of the operation may exist; retention keeps the record meanwhile. */
  deadLetteredAt?: string;
  /** Set by an authorised replay: the operation applies only while its key is at this version (0: the key never existed). */
  replayAtVersion?: number;
}

/** The operation a dead letter carries, as far as recording it goes. */
export interface DeadLetteredOperation {
  id: string;
  key: string;
  type: OperationType;
  acceptedAt: string;
  owner?: string;
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
  owner_id: string | null;
}

interface DeadLetterRow {
  id: string;
  key: string;
  status: 'applied' | 'conflict' | 'failed';
  version: string | null;
  dead_lettered_at: Date | null;
  replay_at_version: string | null;
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
      ...(row.owner_id !== null ? { ownerId: row.owner_id } : {}),
    };
  }

  /**
   * Records a dead-lettered operation. An operation that already has an outcome keeps it; its record is marked as
   * having a dead letter either way, so retention keeps it until `npm run dlq` removed the letter (see RECORD_FAILED).
   */
  async recordFailed(op: DeadLetteredOperation, error: string): Promise<void> {
    await this.pool.query(RECORD_FAILED, [
      op.id,
      op.key,
      op.type,
      error,
      op.acceptedAt,
      new Date().toISOString(),
      op.owner ?? null,
    ]);
  }

  /** Deletes up to `limit` operations finished before `before` and without a dead letter; returns how many went. */
  async deleteFinishedBefore(before: Date, limit = 1_000): Promise<number> {
    const result = await this.pool.query(DELETE_EXPIRED_OPERATIONS, [before.toISOString(), limit]);
    return result.rowCount ?? 0;
  }

  async findDeadLetterState(id: string): Promise<DeadLetterRecord | undefined> {
    const result = await this.pool.query<DeadLetterRow>(SELECT_DEAD_LETTER_STATE, [id]);
    const row = result.rows[0];
    if (!row) return undefined;
    return {
      id: row.id,
      key: row.key,
      status: row.status,
      ...(row.version !== null ? { version: Number(row.version) } : {}),
      ...(row.dead_lettered_at ? { deadLetteredAt: row.dead_lettered_at.toISOString() } : {}),
      ...(row.replay_at_version !== null ? { replayAtVersion: Number(row.replay_at_version) } : {}),
    };
  }

  /**
   * Lets a replayed operation be applied while its key is at `atVersion` (0: the key never existed), and nowhere else:
   * the worker checks it in the apply transaction. Returns the record's dead-letter mark, to hand back to
   * `deadLetterRemoved` once the letter is gone; undefined when the operation already has an outcome (nothing to
   * replay). Records the operation if the audit has not yet.
   */
  async authorizeReplay(op: DeadLetteredOperation, atVersion: number): Promise<string | undefined> {
    const result = await this.pool.query<{ dead_lettered_at: Date }>(AUTHORIZE_REPLAY, [
      op.id,
      op.key,
      op.type,
      'dead-lettered; replayed by an operator before the dead letter was audited',
      op.acceptedAt,
      new Date().toISOString(),
      atVersion,
    ]);
    return result.rows[0]?.dead_lettered_at.toISOString();
  }

  /**
   * The operation's dead letter was removed (replayed or purged) while its mark was `deadLetteredAt`: the record may
   * be pruned once it is older than the retention. False when the mark changed meanwhile (a newer letter exists).
   */
  async deadLetterRemoved(id: string, deadLetteredAt: string): Promise<boolean> {
    const result = await this.pool.query(CLEAR_DEAD_LETTER_MARK, [id, deadLetteredAt]);
    return (result.rowCount ?? 0) > 0;
  }
}
