import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { IdempotencyStore, KvCache, OperationTracker, type CachedEntry } from '@keyflow/cache';
import {
  DomainError,
  ErrorCode,
  serialiseValue,
  type OperationType,
  type WriteMessage,
  type WriteOutcome,
} from '@keyflow/contracts';
import { isTransientDbError, KvRepository, OperationRepository, type KvEntry } from '@keyflow/db';
import { WritePublisher } from '@keyflow/messaging';

/** A readable key: its value as JSON text, so the controller can answer without re-serialising it. */
export interface KvRead {
  key: string;
  valueJson: string;
  version: number;
  updatedAt: string;
  source: 'cache' | 'database';
}

import { MetricsService } from '../metrics/metrics.service';
import { OperationWaiter } from './operation-waiter.service';
import type { WriteOptions } from './write-preconditions.util';

export interface AcceptedWrite {
  operationId: string;
  key: string;
  status: 'accepted';
}

/**
 * How a write request ended for its client: `accepted` (202: applied later), or `finished` when the client
 * waited (`Prefer: wait`) or repeated an already finished idempotent request. `replayed` marks a repeat.
 */
export type WriteResult =
  | { kind: 'accepted'; accepted: AcceptedWrite; replayed: boolean }
  | { kind: 'finished'; outcome: WriteOutcome; replayed: boolean };

@Injectable()
export class KvService {
  private readonly logger = new Logger(KvService.name);

  constructor(
    private readonly cache: KvCache,
    private readonly repository: KvRepository,
    private readonly publisher: WritePublisher,
    private readonly tracker: OperationTracker,
    private readonly idempotency: IdempotencyStore,
    private readonly operations: OperationRepository,
    private readonly waiter: OperationWaiter,
    private readonly metrics: MetricsService,
  ) {}

  /**
   * Eventually consistent read: the cache first; on a miss, or when the cache errors (for example during a
   * Redis failover), the database (a replica where there is one), then a version-guarded cache fill.
   * `strong` reads the primary and skips the cache.
   */
  async get(key: string, { strong = false }: { strong?: boolean } = {}): Promise<KvRead> {
    if (strong) return this.fromEntry(key, await this.readDb(key, true), 'database');

    let cacheUsable = true;
    let cached: CachedEntry | undefined;
    try {
      cached = await this.cache.get(key);
      this.metrics.cache.inc({ result: cached ? 'hit' : 'miss' });
    } catch (err) {
      this.metrics.cache.inc({ result: 'error' });
      cacheUsable = false;
      this.logger.warn(`cache read failed for a key, reading the database: ${(err as Error).message}`);
    }
    if (cached) return this.fromCached(key, cached);
    const entry = await this.readDb(key, false);
    if (cacheUsable) this.fill(key, entry);
    return this.fromEntry(key, entry, 'database');
  }

  put(key: string, value: unknown, options: WriteOptions = { waitMs: 0 }): Promise<WriteResult> {
    const serialised = serialiseValue(value);
    if ('tooLarge' in serialised) {
      throw new DomainError(
        ErrorCode.VALUE_TOO_LARGE,
        `the value is ${serialised.tooLarge} bytes of JSON; the limit is 1048576 (1 MiB)`,
      );
    }
    return this.write(key, 'put', options, value, serialised.json);
  }

  delete(key: string, options: WriteOptions = { waitMs: 0 }): Promise<WriteResult> {
    return this.write(key, 'delete', options);
  }

  /**
   * Publishes the write and returns once the broker confirmed it into its shard's quorum queue, or, when the
   * client waits, once a worker reports the outcome (or the wait runs out: then it is just accepted).
   * With an idempotency key, the first request claims the key; a repeat returns the original operation and
   * publishes nothing; a different request under the same key is refused.
   */
  private async write(
    key: string,
    type: OperationType,
    options: WriteOptions,
    value?: unknown,
    valueJson?: string,
  ): Promise<WriteResult> {
    const id = randomUUID();
    if (options.idempotencyKey) {
      const fingerprint = createHash('sha256')
        .update(JSON.stringify([type, key, valueJson ?? null, options.condition ?? null]))
        .digest('base64url');
      const previous = await this.claim(options.idempotencyKey, { fingerprint, operationId: id });
      if (previous) {
        if (previous.fingerprint !== fingerprint) {
          throw new DomainError(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            'this Idempotency-Key was already used for a different request; use a new key for a new request',
            { problem: { operationId: previous.operationId } },
          );
        }
        return this.replay(previous.operationId, key, options.waitMs > 0);
      }
    }

    const message: WriteMessage = {
      v: 1,
      id,
      key,
      type,
      ...(type === 'put' ? { value } : {}),
      ...(options.condition ? { condition: options.condition } : {}),
      acceptedAt: new Date().toISOString(),
    };
    const wait = options.waitMs > 0 ? this.waiter.waitFor(id, options.waitMs) : undefined;
    const endConfirm = this.metrics.publishConfirm.startTimer();
    try {
      await this.publisher.publish(message, { ...(wait ? { replyTo: this.waiter.replyQueue } : {}), valueJson });
      endConfirm();
    } catch (err) {
      wait?.cancel();
      if (options.idempotencyKey) await this.idempotency.release(options.idempotencyKey, id).catch(() => undefined);
      throw err;
    }
    // Only after the confirm: an operation the tracker knows is one the broker holds.
    this.tracker
      .markAccepted({ id, key, type, acceptedAt: message.acceptedAt })
      .catch((err: Error) => this.logger.warn(`could not record accepted operation ${id}: ${err.message}`));
    const accepted: AcceptedWrite = { operationId: id, key, status: 'accepted' };
    const outcome = wait ? await wait.outcome : undefined;
    return outcome ? { kind: 'finished', outcome, replayed: false } : { kind: 'accepted', accepted, replayed: false };
  }

  private async claim(idempotencyKey: string, record: { fingerprint: string; operationId: string }) {
    try {
      return await this.idempotency.claim(idempotencyKey, record);
    } catch {
      // Without the record we could not tell a repeat from a new request: refuse rather than risk a double write.
      throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'idempotency keys are unavailable right now; retry shortly');
    }
  }

  /**
   * A repeated idempotent request gets the original answer: 202 with the original operation; or, when the
   * client waits and the operation has finished, its outcome. Nothing is published.
   */
  private async replay(operationId: string, key: string, waits: boolean): Promise<WriteResult> {
    const finished = waits ? await this.operations.find(operationId).catch(() => undefined) : undefined;
    if (finished) {
      const { acceptedAt: _a, finishedAt: _f, ...outcome } = finished;
      return { kind: 'finished', outcome, replayed: true };
    }
    return { kind: 'accepted', accepted: { operationId, key, status: 'accepted' }, replayed: true };
  }

  private async readDb(key: string, strong: boolean): Promise<KvEntry | undefined> {
    try {
      return await this.repository.find(key, { strong });
    } catch (err) {
      if (isTransientDbError(err)) {
        throw new DomainError(ErrorCode.DATABASE_UNAVAILABLE, 'the database is unavailable; retry shortly');
      }
      throw err;
    }
  }

  private fill(key: string, entry: KvEntry | undefined): void {
    const cached: CachedEntry = !entry
      ? { state: 'missing', version: 0 }
      : entry.deleted
        ? { state: 'deleted', version: entry.version, updatedAt: entry.updatedAt }
        : {
            state: 'present',
            version: entry.version,
            valueJson: entry.valueJson ?? 'null',
            updatedAt: entry.updatedAt,
          };
    this.cache.setIfNewer(key, cached).catch((err: Error) => this.logger.warn(`cache fill failed: ${err.message}`));
  }

  private fromCached(key: string, cached: CachedEntry): KvRead {
    if (cached.state !== 'present') throw notFound(key);
    return { key, valueJson: cached.valueJson, version: cached.version, updatedAt: cached.updatedAt, source: 'cache' };
  }

  private fromEntry(key: string, entry: KvEntry | undefined, source: KvRead['source']): KvRead {
    if (!entry || entry.deleted) throw notFound(key);
    return { key, valueJson: entry.valueJson ?? 'null', version: entry.version, updatedAt: entry.updatedAt, source };
  }
}

function notFound(key: string): DomainError {
  return new DomainError(ErrorCode.KEY_NOT_FOUND, `no value is stored under key ${JSON.stringify(key)}`);
}
