import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { KvCache, OperationTracker, type CachedEntry } from '@keyflow/cache';
import { DomainError, ErrorCode, serialiseValue, type OperationType, type WriteMessage } from '@keyflow/contracts';
import { isTransientDbError, KvRepository, type KvEntry } from '@keyflow/db';
import { WritePublisher } from '@keyflow/messaging';

/** A readable key: its value as JSON text, so the controller can answer without re-serialising it. */
export interface KvRead {
  key: string;
  valueJson: string;
  version: number;
  updatedAt: string;
  source: 'cache' | 'database';
}

export interface AcceptedWrite {
  operationId: string;
  key: string;
  status: 'accepted';
}

@Injectable()
export class KvService {
  private readonly logger = new Logger(KvService.name);

  constructor(
    private readonly cache: KvCache,
    private readonly repository: KvRepository,
    private readonly publisher: WritePublisher,
    private readonly tracker: OperationTracker,
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
    } catch (err) {
      cacheUsable = false;
      this.logger.warn(`cache read failed for a key, reading the database: ${(err as Error).message}`);
    }
    if (cached) return this.fromCached(key, cached);
    const entry = await this.readDb(key, false);
    if (cacheUsable) this.fill(key, entry);
    return this.fromEntry(key, entry, 'database');
  }

  put(key: string, value: unknown): Promise<AcceptedWrite> {
    const serialised = serialiseValue(value);
    if ('tooLarge' in serialised) {
      throw new DomainError(
        ErrorCode.VALUE_TOO_LARGE,
        `the value is ${serialised.tooLarge} bytes of JSON; the limit is 1048576 (1 MiB)`,
      );
    }
    return this.accept(key, 'put', value);
  }

  delete(key: string): Promise<AcceptedWrite> {
    return this.accept(key, 'delete');
  }

  /** Publishes the write and returns once the broker confirmed it into its shard's quorum queue. */
  private async accept(key: string, type: OperationType, value?: unknown): Promise<AcceptedWrite> {
    const message: WriteMessage = {
      v: 1,
      id: randomUUID(),
      key,
      type,
      ...(type === 'put' ? { value } : {}),
      acceptedAt: new Date().toISOString(),
    };
    await this.publisher.publish(message);
    // Only after the confirm: an operation the tracker knows is one the broker holds.
    this.tracker
      .markAccepted({ id: message.id, key, type, acceptedAt: message.acceptedAt })
      .catch((err: Error) => this.logger.warn(`could not record accepted operation ${message.id}: ${err.message}`));
    return { operationId: message.id, key, status: 'accepted' };
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
        : { state: 'present', version: entry.version, valueJson: entry.valueJson ?? 'null', updatedAt: entry.updatedAt };
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
