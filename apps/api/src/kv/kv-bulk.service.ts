import { createHash, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { IdempotencyStore } from '@keyflow/cache';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import type { BulkOperation } from './bulk-operations.util';
import { KvService, type WriteResult } from './kv.service';
import type { WriteOptions } from './write-preconditions.util';

/** What became of one operation of a bulk write, in the shape a single write's answer has. */
export type BulkOperationResult =
  | { operationId: string; key: string; status: 'accepted' }
  | { operationId: string; key: string; status: 'applied'; version: number; created?: true }
  | { operationId: string; key: string; status: 'conflict'; currentVersion: number }
  | { operationId: string; key: string; status: 'failed'; error: string };

/** One operation that could not be accepted: why, and the operation id when it may have been sent. */
export interface BulkOperationError {
  key: string;
  error: DomainError;
  /** Not sent at all: an earlier operation on the same key was not accepted, so this one was held back. */
  heldBack?: true;
}

export interface BulkWriteResult {
  /** Per operation, in request order. */
  results: Array<BulkOperationResult | BulkOperationError>;
  /** Every operation finished (applied, conflict or failed) within `Prefer: wait`. */
  allFinished: boolean;
  /** Every operation is a repeat of an earlier request with the same `Idempotency-Key`. */
  replayed: boolean;
}

/**
 * Bulk writes: N single writes, not a transaction. Every operation is applied exactly like `PUT`/`DELETE
 * /v1/kv/{key}` (`KvService.put` / `delete`: its own operation id, version, condition and outcome, the same
 * group-committed publish and idempotency), and the request is answered once every operation is confirmed by
 * the broker (or, with `Prefer: wait`, applied).
 *
 * Order. Operations on one key are published one after the other, in request order: each waits until the one
 * before it is confirmed, so they reach the key's queue in that order and are applied in it. Different keys run
 * concurrently (their publishes group-commit together). If an operation is not accepted (the broker does not
 * confirm it), the later operations on its key are held back, never sent: applying them without it would not be
 * the order the client asked for.
 *
 * Idempotency. With an `Idempotency-Key`, the request claims that key for the whole bulk (a different request under
 * it is refused with 422 before anything is sent), and each operation gets its own derived key `<key>#<index>`,
 * so a retried bulk request re-sends or replays each operation and none takes effect twice.
 *
 * `Prefer: wait=N` waits up to N seconds in all: each operation waits for what is left of that time, so an
 * operation on a key waits for the one before it to be applied first (per-key order again), and a slow shard
 * cannot make the request wait more than N seconds beyond its publishes.
 */
@Injectable()
export class KvBulkService {
  private readonly logger = new Logger(KvBulkService.name);

  constructor(
    private readonly kv: KvService,
    private readonly idempotency: IdempotencyStore,
  ) {}

  async write(operations: BulkOperation[], options: WriteOptions): Promise<BulkWriteResult> {
    if (options.idempotencyKey) await this.claim(options.idempotencyKey, operations, options.owner);
    const deadline = Date.now() + options.waitMs;
    const results: BulkWriteResult['results'] = [];

    const chains = new Map<string, number[]>();
    operations.forEach((operation, index) => {
      const chain = chains.get(operation.key);
      if (chain) chain.push(index);
      else chains.set(operation.key, [index]);
    });
    let replayed = true;
    await Promise.all(
      [...chains.values()].map(async (indexes) => {
        for (const [position, index] of indexes.entries()) {
          const operation = operations[index];
          if (!operation) continue;
          const opOptions: WriteOptions = {
            waitMs: options.waitMs > 0 ? Math.max(deadline - Date.now(), 1) : 0,
            ...(operation.condition ? { condition: operation.condition } : {}),
            ...(operation.op === 'put' && operation.ttl !== undefined ? { ttl: operation.ttl } : {}),
            ...(options.idempotencyKey ? { idempotencyKey: `${options.idempotencyKey}#${index}` } : {}),
            ...(options.owner ? { owner: options.owner } : {}),
            // Every operation of a bulk is logged under the bulk request's id.
            ...(options.requestId ? { requestId: options.requestId } : {}),
          };
          try {
            const result =
              operation.op === 'put'
                ? await this.kv.put(operation.key, operation.value, opOptions)
                : await this.kv.delete(operation.key, opOptions);
            replayed &&= result.replayed;
            results[index] = toResult(result);
          } catch (err) {
            replayed = false;
            if (!(err instanceof DomainError)) this.logger.error({ err }, 'a bulk write operation failed unexpectedly');
            const error = err instanceof DomainError ? err : unexpected(err);
            results[index] = { key: operation.key, error };
            for (const later of indexes.slice(position + 1)) {
              results[later] = { key: operation.key, error: heldBack(operation.key, index), heldBack: true };
            }
            return;
          }
        }
      }),
    );
    const allFinished = results.every((r) => 'status' in r && r.status !== 'accepted');
    return { results, allFinished, replayed };
  }

  /**
   * Claims the bulk's own key for this exact list of operations: a retry of the same request goes on (each operation
   * then finds its own derived key), a different request under the key is refused before anything is sent.
   */
  private async claim(idempotencyKey: string, operations: BulkOperation[], owner?: string): Promise<void> {
    const fingerprint = createHash('sha256')
      .update(
        JSON.stringify([
          'bulk',
          operations.map((o) =>
            o.op === 'put'
              ? [o.op, o.key, o.valueJson, o.condition ?? null, o.ttl ?? null]
              : [o.op, o.key, o.condition ?? null],
          ),
        ]),
      )
      .digest('base64url');
    let previous;
    try {
      previous = await this.idempotency.claim(
        idempotencyKey,
        { fingerprint, operationId: randomUUID(), acceptedAt: new Date().toISOString() },
        owner,
      );
    } catch {
      throw new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'idempotency keys are unavailable right now; retry shortly', {
        retryAfterSeconds: 1,
      });
    }
    if (previous && previous.fingerprint !== fingerprint) {
      throw new DomainError(
        ErrorCode.IDEMPOTENCY_KEY_REUSED,
        'this Idempotency-Key was already used for a different request; use a new key for a new request',
        { operationId: previous.operationId },
      );
    }
  }
}

function toResult(result: WriteResult): BulkOperationResult {
  if (result.kind === 'accepted') return result.accepted;
  const { id: operationId, key, status, version = 0, created, error } = result.outcome;
  switch (status) {
    case 'applied':
      return { operationId, key, status, version, ...(created ? { created: true as const } : {}) };
    case 'conflict':
      return { operationId, key, status, currentVersion: version };
    case 'failed':
      return { operationId, key, status, error: error ?? 'the write could not be applied' };
  }
}

function heldBack(key: string, index: number): DomainError {
  return new DomainError(
    ErrorCode.BROKER_UNAVAILABLE,
    `not sent: operations[${index}] on the same key ${JSON.stringify(key)} was not accepted, and this one must follow it`,
    { retryAfterSeconds: 1 },
  );
}

function unexpected(err: unknown): DomainError {
  // Not a domain error (a bug, logged above): the client learns only that this operation's outcome is unknown.
  return new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'the write could not be accepted', {
    cause: err instanceof Error ? err.message : String(err),
  });
}
