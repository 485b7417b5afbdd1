import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import {
  IdempotencyStore,
  KvCache,
  OperationTracker,
  type CachedEntry,
  type FillResult,
  type IdempotencyRecord,
} from '@keyflow/cache';
import {
  describeBadTtl,
  DomainError,
  ErrorCode,
  expiresAtFor,
  hasExpired,
  isRequestId,
  serialiseValue,
  type OperationType,
  type WriteMessage,
  type WriteOutcome,
} from '@keyflow/contracts';
import { isTransientDbError, KvRepository, OperationRepository, type KvEntry, type OperationRecord } from '@keyflow/db';
import { WritePublisher } from '@keyflow/messaging';

/**
 * A readable key: its value as JSON text, so the controller can answer without re-serialising it. `expiresAt`: when
 * a key written with a time to live expires (it is never returned once that has passed).
 */
export interface KvRead {
  key: string;
  valueJson: string;
  version: number;
  updatedAt: string;
  expiresAt?: string;
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
   * Redis failover), the database (a replica where there is one), then a version-guarded cache fill. The fill
   * is awaited (one Redis round trip, on misses only) because it also tells whether the replica is behind a
   * version a worker committed; then the primary answers. `strong` reads the primary and skips the cache.
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
      this.logger.warn({ err }, 'cache read failed for a key, reading the database');
    }
    if (cached) return this.fromCached(key, cached);
    const entry = await this.readDb(key, false);
    if (cacheUsable && (await this.fill(key, entry)) === 'below-floor') {
      // The replica is behind a version a worker committed (the cache remembers it longer than the value or the
      // tombstone): answering from it would take the key back in time, so the primary answers instead.
      const current = await this.readDb(key, true);
      await this.fill(key, current);
      return this.fromEntry(key, current, 'database');
    }
    return this.fromEntry(key, entry, 'database');
  }

  /**
   * A put. `options.ttl` (seconds): the key expires at `acceptedAt + ttl` (`expiresAt` in the message); a put without
   * it clears an earlier expiry. A bad `ttl` is refused here too, not only by the request DTOs, so no route can
   * publish one.
   */
  put(key: string, value: unknown, options: WriteOptions = { waitMs: 0 }): Promise<WriteResult> {
    if (options.ttl !== undefined) {
      const badTtl = describeBadTtl(options.ttl);
      if (badTtl) throw new DomainError(ErrorCode.INVALID_REQUEST, badTtl);
    }
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
   * Publishes the write and answers `accepted` once the broker confirmed it into its shard's quorum queue and
   * the operation is recorded for `GET /v1/operations/{id}`; or, when the client waits, once a worker reports
   * the outcome (or the wait runs out: then it is just accepted).
   *
   * Idempotency-Key: the first request claims the key for its operation id before publishing; a different
   * request under the key is refused (422). A repeat of the same request gets the same operation id, never a
   * new one, and is answered by what is known of that operation:
   * - the tracker or the database holds it: it was confirmed, so the original answer is repeated and nothing
   *   is published;
   * - neither holds it: the outcome is unknown (the first publish is still waiting for its confirm, timed out,
   *   or its API died), so the repeat publishes the same operation again and answers only once that publish
   *   is confirmed. Applying is idempotent by operation id (the worker skips an id it has recorded), so
   *   however many copies reach the queue the write takes effect once, and a repeat is never told
   *   `accepted` for an operation that may have been lost.
   * That holds while the idempotency record (24 h) is younger than the worker's operation retention (7 days
   * by default): an id the database has forgotten would be applied again.
   */
  private async write(
    key: string,
    type: OperationType,
    options: WriteOptions,
    value?: unknown,
    valueJson?: string,
  ): Promise<WriteResult> {
    const ttl = type === 'put' ? options.ttl : undefined;
    const message: WriteMessage = {
      v: 1,
      id: randomUUID(),
      key,
      type,
      ...(type === 'put' ? { value } : {}),
      ...(options.condition ? { condition: options.condition } : {}),
      ...acceptedWithExpiry(new Date().toISOString(), ttl),
      ...(options.owner ? { owner: options.owner } : {}),
      ...(isRequestId(options.requestId) ? { requestId: options.requestId } : {}),
    };
    if (!options.idempotencyKey) return this.publishAccepted(message, valueJson, options, false);

    // A time to live is part of the request; fingerprints of writes without one stay what they always were.
    const fingerprint = createHash('sha256')
      .update(JSON.stringify([type, key, valueJson ?? null, options.condition ?? null, ...(ttl ? [ttl] : [])]))
      .digest('base64url');
    const previous = await this.claim(
      options.idempotencyKey,
      { fingerprint, operationId: message.id, acceptedAt: message.acceptedAt },
      options.owner,
    );
    if (!previous) return this.publishAccepted(message, valueJson, options, false);
    if (previous.fingerprint !== fingerprint) {
      throw new DomainError(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was already used for a different request; use a new key for a new request',
        { operationId: previous.operationId },
      );
    }
    // The same request, so the same message: only the id and the time of the first attempt differ (and so the
    // expiry, which counts from the first attempt's acceptance).
    const original = {
      ...message,
      id: previous.operationId,
      ...acceptedWithExpiry(previous.acceptedAt ?? message.acceptedAt, ttl),
    };
    return this.repeat(original, valueJson, options);
  }

  private async claim(idempotencyKey: string, record: IdempotencyRecord, owner: string | undefined) {
    try {
      return await this.idempotency.claim(idempotencyKey, record, owner);
    } catch {
      // Without the record we could not tell a repeat from a new request: refuse rather than risk a double write.
      // Nothing was published, so this 503 carries no operation id: the write did not happen. Also what a full
      // Redis answers (maxmemory with noeviction refuses new claims rather than evicting old ones).
      throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'idempotency keys are unavailable right now; retry shortly', {
        retryAfterSeconds: RETRY_SHORTLY_SECONDS,
      });
    }
  }

  /**
   * Publishes `message` and records it as accepted, in that order, and only then answers. Any failure after
   * the publish was attempted leaves the outcome unknown (a confirm that timed out may still be followed by
   * the message reaching the queue), so it is a 503 that carries the operation id, and an idempotency record
   * stays claimed for that id.
   */
  private async publishAccepted(
    message: WriteMessage,
    valueJson: string | undefined,
    options: WriteOptions,
    replayed: boolean,
  ): Promise<WriteResult> {
    const { id, key, type, acceptedAt, owner } = message;
    const wait = options.waitMs > 0 ? this.waiter.waitFor(id, options.waitMs) : undefined;
    const endConfirm = this.metrics.publishConfirm.startTimer();
    try {
      await this.publisher.publish(message, { ...(wait ? { replyTo: this.waiter.replyQueue } : {}), valueJson });
      endConfirm();
    } catch (err) {
      wait?.cancel();
      throw outcomeUnknown(
        id,
        options.idempotencyKey,
        'the message broker did not confirm the write in time; it may still be applied',
        err,
      );
    }
    // Only after the confirm, and before the 202: an operation the tracker knows is one the broker holds, and
    // every operation a client is told is accepted can be looked up. If the record cannot be written the write
    // is still in the queue and will be applied, but is not reported as accepted.
    try {
      await this.tracker.markAccepted({ id, key, type, acceptedAt, ...(owner ? { owner } : {}) });
    } catch (err) {
      wait?.cancel();
      this.logger.warn({ err, operationId: id }, 'could not record an accepted operation');
      throw outcomeUnknown(
        id,
        options.idempotencyKey,
        'the write is queued and will be applied, but it could not be recorded, so it is not reported as accepted',
        err,
      );
    }
    const outcome = wait ? await wait.outcome : undefined;
    return outcome
      ? { kind: 'finished', outcome, replayed }
      : { kind: 'accepted', accepted: { operationId: id, key, status: 'accepted' }, replayed };
  }

  /**
   * A repeated idempotent request. Confirmed before (tracked, or finished in the database): the original
   * answer, 202 with the original operation or, when the client waits and the operation has finished, its
   * outcome; nothing is published. Otherwise the original operation is published again (see `write`).
   */
  private async repeat(
    message: WriteMessage,
    valueJson: string | undefined,
    options: WriteOptions,
  ): Promise<WriteResult> {
    const waits = options.waitMs > 0;
    const replay: WriteResult = {
      kind: 'accepted',
      accepted: { operationId: message.id, key: message.key, status: 'accepted' },
      replayed: true,
    };
    // A tracker that cannot be read says nothing: the database, or a publish, decides.
    const tracked = await this.tracker.findAccepted(message.id).catch(() => undefined);
    if (tracked && !waits) return replay;
    let finished: OperationRecord | undefined;
    try {
      finished = await this.operations.find(message.id);
    } catch (err) {
      // Known to be accepted: answering 202 is right whatever the database says.
      if (tracked) return replay;
      // Unknown, and the database cannot say whether it finished: publishing again could re-apply an operation
      // that was dead-lettered (a failed operation that comes back is taken for an operator's replay).
      this.logger.warn({ err, operationId: message.id }, 'could not look up an operation for a repeat');
      throw new DomainError(
        ErrorCode.DATABASE_UNAVAILABLE,
        'the database is unavailable, so this repeat cannot be answered yet; retry with the same Idempotency-Key',
        { operationId: message.id },
      );
    }
    if (finished) {
      if (!waits) return replay;
      const { acceptedAt: _a, finishedAt: _f, ...outcome } = finished;
      return { kind: 'finished', outcome, replayed: true };
    }
    if (tracked) return replay;
    return this.publishAccepted(message, valueJson, options, true);
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

  /**
   * Read-through fill with what the database returned. The cache refuses it when a worker committed a newer
   * version (the replica lags), and keeps a fill only briefly (see `KvCache.fill`). A cache that cannot be
   * written is not an error for the read: the fill is skipped (`undefined`).
   */
  private async fill(key: string, entry: KvEntry | undefined): Promise<FillResult | undefined> {
    const cached: CachedEntry = !entry
      ? { state: 'missing', version: 0 }
      : entry.deleted
        ? { state: 'deleted', version: entry.version, updatedAt: entry.updatedAt }
        : {
            state: 'present',
            version: entry.version,
            valueJson: entry.valueJson ?? 'null',
            updatedAt: entry.updatedAt,
            ...(entry.expiresAt ? { expiresAt: entry.expiresAt } : {}),
          };
    try {
      return await this.cache.fill(key, cached);
    } catch (err) {
      this.logger.warn({ err }, 'cache fill failed');
      return undefined;
    }
  }

  /**
   * An expired key is not found from its `expiresAt` on, whichever path read it (the cache, a replica, the primary),
   * even before the worker's expiry delete is applied and replaces it everywhere with a tombstone.
   */
  private fromCached(key: string, cached: CachedEntry): KvRead {
    if (cached.state !== 'present' || hasExpired(cached.expiresAt)) throw notFound(key);
    const { valueJson, version, updatedAt, expiresAt } = cached;
    return { key, valueJson, version, updatedAt, ...(expiresAt ? { expiresAt } : {}), source: 'cache' };
  }

  private fromEntry(key: string, entry: KvEntry | undefined, source: KvRead['source']): KvRead {
    if (!entry || entry.deleted || hasExpired(entry.expiresAt)) throw notFound(key);
    const { version, updatedAt, expiresAt } = entry;
    return {
      key,
      valueJson: entry.valueJson ?? 'null',
      version,
      updatedAt,
      ...(expiresAt ? { expiresAt } : {}),
      source,
    };
  }
}

/** A write's `acceptedAt`, and for a put with a time to live (seconds) the `expiresAt` that counts from it. */
export function acceptedWithExpiry(
  acceptedAt: string,
  ttl: number | undefined,
): Pick<WriteMessage, 'acceptedAt' | 'expiresAt'> {
  return { acceptedAt, ...(ttl !== undefined ? { expiresAt: expiresAtFor(acceptedAt, ttl) } : {}) };
}

function notFound(key: string): DomainError {
  return new DomainError(ErrorCode.KEY_NOT_FOUND, `no value is stored under key ${JSON.stringify(key)}`);
}

/**
 * A write that was handed to the broker but not answered with 202: it may be (or is) in the queue. Unlike a 503
 * that carries no operation id (nothing was sent), this one is not "nothing happened": it carries the
 * operation id so the client can follow it, and says how to retry without applying the write twice.
 */
function outcomeUnknown(operationId: string, idempotencyKey: string | undefined, what: string, cause: unknown) {
  // The gateway gives a write without a key one of its own (gw-<request id>); the client never saw it, so name it.
  const advice = idempotencyKey?.startsWith('gw-')
    ? `Retry with the header Idempotency-Key: ${idempotencyKey} (the key the gateway gave this write): the retry re-sends this operation, which takes effect at most once.`
    : idempotencyKey
      ? 'Retry with the same Idempotency-Key: the retry re-sends this operation, which takes effect at most once.'
      : `It appears at /v1/operations/${operationId} once applied; retrying without an Idempotency-Key may apply it twice.`;
  return new DomainError(ErrorCode.BROKER_UNAVAILABLE, `${what}. ${advice}`, {
    operationId,
    retryAfterSeconds: RETRY_SHORTLY_SECONDS,
    cause: cause instanceof Error ? cause.message : String(cause),
  });
}

/** Seconds after which a retry may get past a 503 that soon ends (a broker stall, a full or failing-over Redis). */
const RETRY_SHORTLY_SECONDS = 1;
