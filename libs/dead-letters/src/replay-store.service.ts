import type {
  DeadLetteredOperation,
  DeadLetterRecord,
  KvLastWrite,
  KvRepository,
  OperationRepository,
} from '@keyflow/db';

/** The database's view of a dead letter: its operation's record and its key's last write (either may be missing). */
export interface ReplayState {
  record?: DeadLetterRecord;
  lastWrite?: KvLastWrite;
}

/**
 * What the tool reads and writes in the database (a port: the specs use an in-memory one).
 * - `inspect` reads the primary, never a replica: the decision must see every write applied so far.
 * - `authorize` records that the operation may be applied only while its key is at `atVersion` (the worker checks
 *   it in its apply transaction), before the replay is published. Returns the record's dead-letter mark, or
 *   undefined when the operation already has an outcome (then nothing is published).
 * - `letterRemoved` is called once the broker has the letter's removal: retention may then prune the record.
 */
export interface ReplayStore {
  inspect(operationId: string, key?: string): Promise<ReplayState>;
  authorize(op: DeadLetteredOperation, atVersion: number): Promise<string | undefined>;
  letterRemoved(operationId: string, deadLetteredAt: string): Promise<void>;
}

export class DbReplayStore implements ReplayStore {
  constructor(
    private readonly kv: KvRepository,
    private readonly operations: OperationRepository,
  ) {}

  async inspect(operationId: string, key?: string): Promise<ReplayState> {
    const [record, lastWrite] = await Promise.all([
      this.operations.findDeadLetterState(operationId),
      key === undefined ? undefined : this.kv.findLastWrite(key),
    ]);
    return { ...(record ? { record } : {}), ...(lastWrite ? { lastWrite } : {}) };
  }

  authorize(op: DeadLetteredOperation, atVersion: number): Promise<string | undefined> {
    return this.operations.authorizeReplay(op, atVersion);
  }

  async letterRemoved(operationId: string, deadLetteredAt: string): Promise<void> {
    await this.operations.deadLetterRemoved(operationId, deadLetteredAt);
  }
}
