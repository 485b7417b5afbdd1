import { expiryOperationId, shardOf, type OperationType, type WriteMessage } from '@keyflow/contracts';
import type { ExpiredKey, ExpiryCursor } from '@keyflow/db';

/** What a sweep needs from the rest of the worker (the repository, the coordinator, the broker, the tracker). */
export interface ExpiryPorts {
  /** One page of live keys whose expiry passed by `now`, in (expiresAt, key) order after `after`. */
  findExpired(now: Date, limit: number, after?: ExpiryCursor): Promise<ExpiredKey[]>;
  /** The shards this worker holds right now: only their keys are its to expire. */
  heldShards(): ReadonlySet<number>;
  /** Resolves once the broker confirmed the message into the key's shard queue. */
  publish(message: WriteMessage): Promise<void>;
  /** Records a confirmed operation for `GET /v1/operations/{id}`, as the API does after its confirm. */
  markAccepted(op: { id: string; key: string; type: OperationType; acceptedAt: string }): Promise<void>;
  warn(message: string): void;
}

export interface ExpirySweepOptions {
  /** `KV_SHARDS`: how keys map to shards. */
  shards: number;
  /** Keys read per page of the walk through the expiry index. */
  pageSize: number;
  /** Pages read per sweep at most: a sweep reads at most `pageSize × maxPages` rows, whatever the backlog. */
  maxPages: number;
  /** How long a published expiry counts as in flight: the same expiry is not published again before. */
  republishAfterMs: number;
}

export interface SweepResult {
  /** Rows read from the expiry index. */
  scanned: number;
  /** Expiry deletes the broker confirmed. */
  published: number;
  /** Expiry deletes that could not be published (left for the next sweep). */
  failed: number;
}

/**
 * One sweep of the expiry index: finds live keys whose `expiresAt` passed, keeps those of the shards this worker
 * holds, and publishes for each the delete that expires it, into the key's shard queue, as any write: a `WriteMessage`
 * with `cause: 'expire'` and the condition `{kind: 'version', version}` of the version found, confirmed by the broker
 * and then recorded as accepted. The worker applying the shard applies it in order with the key's other writes, so the
 * expiry raises the version by exactly one (versions stay gapless), reaches the cache like any delete, and is an
 * operation like any other. A key rewritten (or deleted) between the sweep and the apply keeps its new state: the
 * version condition fails and the expiry ends as a conflict.
 *
 * Never twice in effect, and nothing lost:
 * - the operation id is derived from the key and the version (`expiryOperationId`), so publishing the same expiry
 *   again, by this worker after a restart or by the shard's next holder, is the same operation, which the applying
 *   worker takes once (idempotent by operation id) and records once;
 * - an expiry the broker confirmed is in flight for `republishAfterMs`: later sweeps skip it while the key is still
 *   at that version, so a key is not published again every sweep while its delete waits in a busy queue. Memory
 *   only: a restarted worker, or the next holder of a shard, publishes it again, which the derived id makes harmless;
 * - one that was not confirmed is not in flight: the next sweep finds the key again and retries.
 *
 * The walk is bounded (`maxPages` pages per sweep) and resumes where it stopped: when a sweep ends before the end of
 * the index, the next one carries on from its cursor, and starts over from the oldest expiry once it reached the end.
 * So a backlog of expired keys, or a run of them in flight ahead, cannot hide the keys behind it.
 */
export class ExpirySweep {
  /** Published expiries by key: the version expired and until when it counts as in flight. */
  private readonly inFlight = new Map<string, { version: number; until: number }>();
  /** Where the walk stopped, when the previous sweep ran out of pages before the end of the index. */
  private cursor?: ExpiryCursor;

  constructor(
    private readonly ports: ExpiryPorts,
    private readonly options: ExpirySweepOptions,
  ) {}

  /** How many expiries are in flight (for tests and `/shards`). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  async sweep(now = Date.now()): Promise<SweepResult> {
    for (const [key, flight] of this.inFlight) if (flight.until <= now) this.inFlight.delete(key);
    const held = this.ports.heldShards();
    if (held.size === 0) {
      this.cursor = undefined;
      return { scanned: 0, published: 0, failed: 0 };
    }
    const { due, scanned } = await this.findDue(new Date(now), held);
    const results = await Promise.all(due.map((expired) => this.expire(expired, now)));
    const published = results.filter(Boolean).length;
    return { scanned, published, failed: results.length - published };
  }

  /** The expired keys of held shards that are not in flight, from up to `maxPages` pages of the walk. */
  private async findDue(now: Date, held: ReadonlySet<number>): Promise<{ due: ExpiredKey[]; scanned: number }> {
    const due: ExpiredKey[] = [];
    let scanned = 0;
    let after = this.cursor;
    for (let page = 0; ; page++) {
      if (page === this.options.maxPages) {
        this.cursor = after;
        break;
      }
      const rows = await this.ports.findExpired(now, this.options.pageSize, after);
      scanned += rows.length;
      for (const row of rows) {
        if (!held.has(shardOf(row.key, this.options.shards))) continue;
        const flight = this.inFlight.get(row.key);
        if (flight?.version === row.version) continue;
        due.push(row);
      }
      if (rows.length < this.options.pageSize) {
        this.cursor = undefined;
        break;
      }
      const last = rows[rows.length - 1];
      after = { expiresAt: last.expiresAt, key: last.key };
    }
    return { due, scanned };
  }

  /** Publishes the expiry delete of one key; true once the broker confirmed it. */
  private async expire({ key, version }: ExpiredKey, now: number): Promise<boolean> {
    const message: WriteMessage = {
      v: 1,
      id: expiryOperationId(key, version),
      key,
      type: 'delete',
      condition: { kind: 'version', version },
      acceptedAt: new Date(now).toISOString(),
      cause: 'expire',
    };
    try {
      await this.ports.publish(message);
    } catch (err) {
      this.ports.warn(`could not publish the expiry of a key at version ${version}: ${(err as Error).message}`);
      return false;
    }
    this.inFlight.set(key, { version, until: now + this.options.republishAfterMs });
    // Best effort, as for the API: the delete is queued and will be applied whether or not its record is written.
    await this.ports
      .markAccepted({ id: message.id, key, type: 'delete', acceptedAt: message.acceptedAt })
      .catch((err: Error) => this.ports.warn(`could not record an expiry as accepted: ${err.message}`));
    return true;
  }
}
