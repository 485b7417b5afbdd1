import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KvRepository, OperationRepository } from '@keyflow/db';
import type { ShardCoordinator } from '../apply/shard-coordinator.service';
import type { WorkerConfig } from '../config/worker.config';
import { RetentionService } from './retention.service';

const HOUR = 3_600_000;
const now = Date.parse('2026-12-01T00:00:00.000Z');

/** Rows with the time that ages them; `remove` follows the repositories' contract (bounded, oldest cut-off). */
class AgedRows {
  failures: Error[] = [];
  constructor(public rows: Array<{ id: string; at: number }>) {}
  remove(before: Date, limit: number): Promise<number> {
    const failure = this.failures.shift();
    if (failure) return Promise.reject(failure);
    const expired = this.rows.filter((r) => r.at < before.getTime()).slice(0, limit);
    this.rows = this.rows.filter((r) => !expired.includes(r));
    return Promise.resolve(expired.length);
  }
}

const aged = (prefix: string, count: number, at: number) =>
  Array.from({ length: count }, (_, i) => ({ id: `${prefix}${i}`, at }));

describe(RetentionService.name, () => {
  let operations: AgedRows;
  let tombstones: AgedRows;
  let leader: boolean;
  let warnings: string[];
  let service: RetentionService;

  beforeEach(() => {
    warnings = [];
    vi.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => void warnings.push(String(m)));
    vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    leader = true;
    operations = new AgedRows([...aged('old-op-', 2_500, now - 200 * HOUR), ...aged('new-op-', 3, now - HOUR)]);
    tombstones = new AgedRows([...aged('old-key-', 1_200, now - 169 * HOUR), ...aged('new-key-', 2, now - HOUR)]);
    service = new RetentionService(
      { OPERATION_RETENTION_HOURS: 168, RETENTION_SWEEP_INTERVAL_MS: 60_000 } as WorkerConfig,
      {
        deleteFinishedBefore: (before: Date, limit: number) => operations.remove(before, limit),
      } as OperationRepository,
      { compactTombstones: (before: Date, limit: number) => tombstones.remove(before, limit) } as KvRepository,
      { isLeader: () => leader } as ShardCoordinator,
    );
  });

  afterEach(() => vi.restoreAllMocks());

  describe('sweep', () => {
    it('should remove operations and compact tombstones older than the retention, in chunks, keeping newer ones', async () => {
      expect(await service.sweep(now)).toEqual({ operations: 2_500, tombstones: 1_200 });
      expect(operations.rows.map((r) => r.id)).toEqual(['new-op-0', 'new-op-1', 'new-op-2']);
      expect(tombstones.rows.map((r) => r.id)).toEqual(['new-key-0', 'new-key-1']);
    });

    it('should leave everything to the leader', async () => {
      leader = false;
      expect(await service.sweep(now)).toEqual({ operations: 0, tombstones: 0 });
      expect(operations.rows).toHaveLength(2_503);
      expect(tombstones.rows).toHaveLength(1_202);
    });

    it('should still compact tombstones when pruning operations fails, and retry both next time', async () => {
      operations.failures.push(new Error('Connection terminated unexpectedly'));
      expect(await service.sweep(now)).toEqual({ operations: 0, tombstones: 1_200 });
      expect(warnings).toEqual(['pruning operations failed, will retry: Connection terminated unexpectedly']);
      expect(await service.sweep(now)).toEqual({ operations: 2_500, tombstones: 0 });
    });
  });
});
