import { describe, expect, it } from 'vitest';
import { expiryOperationId, shardOf, type WriteMessage } from '@keyflow/contracts';
import type { ExpiredKey, ExpiryCursor } from '@keyflow/db';
import { ExpirySweep, type ExpiryPorts, type ExpirySweepOptions } from './expiry-sweep';

const SHARDS = 4;
const now = Date.parse('2026-12-01T10:00:10.000Z');

/**
 * The expiry index as `KvRepository.findExpired` reads it: live keys with an expiry, in (expiresAt, key) order, those
 * expired by `now`, after the cursor, a page at a time. Keys are added with `expire(key, version, at)`; `apply`
 * deletes one (as the worker does once the published delete is applied).
 */
class FakeIndex {
  rows: ExpiredKey[] = [];
  pages: Array<{ after?: ExpiryCursor; limit: number }> = [];

  add(key: string, version: number, at = now - 1_000): void {
    this.rows.push({ key, version, expiresAt: new Date(at).toISOString() });
  }

  apply(key: string): void {
    this.rows = this.rows.filter((r) => r.key !== key);
  }

  findExpired(at: Date, limit: number, after?: ExpiryCursor): Promise<ExpiredKey[]> {
    this.pages.push({ ...(after ? { after } : {}), limit });
    const sorted = [...this.rows].sort((a, b) =>
      a.expiresAt === b.expiresAt ? a.key.localeCompare(b.key) : a.expiresAt.localeCompare(b.expiresAt),
    );
    const page = sorted
      .filter((r) => Date.parse(r.expiresAt) <= at.getTime())
      .filter((r) => !after || r.expiresAt > after.expiresAt || (r.expiresAt === after.expiresAt && r.key > after.key))
      .slice(0, limit);
    return Promise.resolve(page.map((r) => ({ ...r })));
  }
}

/** Keys named `<prefix>-<n>` that hash to `shard`. */
function keysOn(shard: number, count: number, prefix = 'k'): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++)
    if (shardOf(`${prefix}-${i}`, SHARDS) === shard) keys.push(`${prefix}-${i}`);
  return keys;
}

function setup(options: Partial<ExpirySweepOptions> = {}) {
  const index = new FakeIndex();
  const published: WriteMessage[] = [];
  const accepted: string[] = [];
  const warnings: string[] = [];
  const state = { held: new Set([0, 1, 2, 3]), confirms: [] as Array<'confirm' | 'refuse'> };
  const ports: ExpiryPorts = {
    findExpired: (at, limit, after) => index.findExpired(at, limit, after),
    heldShards: () => state.held,
    publish: (message) => {
      if (state.confirms.shift() === 'refuse') return Promise.reject(new Error('no confirm in time'));
      published.push(message);
      return Promise.resolve();
    },
    markAccepted: (op) => {
      accepted.push(op.id);
      return Promise.resolve();
    },
    warn: (message) => void warnings.push(message),
  };
  const sweep = new ExpirySweep(ports, {
    shards: SHARDS,
    pageSize: 100,
    maxPages: 8,
    republishAfterMs: 10_000,
    ...options,
  });
  return { sweep, index, published, accepted, warnings, state };
}

describe(ExpirySweep.name, () => {
  describe('sweep', () => {
    it("should publish a versioned expiry delete for each expired key, into the key's shard, and record it accepted", async () => {
      const { sweep, index, published, accepted } = setup();
      index.add('user:1', 3);
      index.add('later', 1, now + 1_000);
      expect(await sweep.sweep(now)).toEqual({ scanned: 1, published: 1, failed: 0 });
      expect(published).toEqual([
        {
          v: 1,
          id: expiryOperationId('user:1', 3),
          key: 'user:1',
          type: 'delete',
          condition: { kind: 'version', version: 3 },
          acceptedAt: new Date(now).toISOString(),
          cause: 'expire',
        },
      ]);
      expect(accepted).toEqual([expiryOperationId('user:1', 3)]);
    });

    it('should keep only the keys of the shards this worker holds', async () => {
      const { sweep, index, published, state } = setup();
      const [mine] = keysOn(1, 1);
      const [theirs] = keysOn(2, 1);
      index.add(mine ?? '', 1);
      index.add(theirs ?? '', 1);
      state.held = new Set([0, 1]);
      await sweep.sweep(now);
      expect(published.map((m) => m.key)).toEqual([mine]);

      state.held = new Set();
      expect(await sweep.sweep(now + 20_000)).toEqual({ scanned: 0, published: 0, failed: 0 });
    });

    it('should not publish an expiry again while it is in flight, and again once that lapsed, with the same id', async () => {
      const { sweep, index, published } = setup();
      index.add('k', 1);
      await sweep.sweep(now);
      expect(await sweep.sweep(now + 250)).toEqual({ scanned: 1, published: 0, failed: 0 });
      expect(await sweep.sweep(now + 9_999)).toMatchObject({ published: 0 });
      expect(sweep.inFlightCount).toBe(1);
      // Still not applied after 10 s (a backlog in its shard): published again, the same operation.
      expect(await sweep.sweep(now + 10_000)).toMatchObject({ published: 1 });
      expect(published.map((m) => m.id)).toEqual([expiryOperationId('k', 1), expiryOperationId('k', 1)]);
    });

    it('should publish the expiry of a key rewritten with a new ttl at its new version, in flight or not', async () => {
      const { sweep, index, published } = setup();
      index.add('k', 1);
      await sweep.sweep(now);
      // The expiry of version 1 conflicts: the key was written again (version 2) and that expired too.
      index.apply('k');
      index.add('k', 2, now + 500);
      await sweep.sweep(now + 1_000);
      expect(published.map((m) => m.condition)).toEqual([
        { kind: 'version', version: 1 },
        { kind: 'version', version: 2 },
      ]);
    });

    it('should retry at the next sweep an expiry the broker did not confirm', async () => {
      const { sweep, index, published, accepted, state, warnings } = setup();
      index.add('k', 1);
      state.confirms.push('refuse');
      expect(await sweep.sweep(now)).toEqual({ scanned: 1, published: 0, failed: 1 });
      expect(accepted).toEqual([]);
      expect(warnings).toEqual(['could not publish the expiry of a key at version 1: no confirm in time']);
      expect(await sweep.sweep(now + 250)).toMatchObject({ published: 1 });
      expect(published).toHaveLength(1);
    });

    it('should publish again after a restart (a new sweep, as on the next holder of the shard), with the same id', async () => {
      const first = setup();
      first.index.add('k', 4);
      await first.sweep.sweep(now);
      const next = setup();
      next.index.rows = first.index.rows;
      await next.sweep.sweep(now + 100);
      expect(next.published.map((m) => m.id)).toEqual(first.published.map((m) => m.id));
    });

    it('should read a bounded number of pages per sweep and carry on from there, then start over', async () => {
      const { sweep, index, published } = setup({ pageSize: 10, maxPages: 2 });
      for (let i = 0; i < 45; i++) index.add(`k-${String(i).padStart(2, '0')}`, 1, now - 10_000 + i);
      expect(await sweep.sweep(now)).toEqual({ scanned: 20, published: 20, failed: 0 });
      expect(await sweep.sweep(now + 250)).toEqual({ scanned: 20, published: 20, failed: 0 });
      // The end of the index (a short page): the walk starts over next time, and finds nothing new.
      expect(await sweep.sweep(now + 500)).toEqual({ scanned: 5, published: 5, failed: 0 });
      expect(index.pages.at(-1)).toEqual({ after: { expiresAt: expect.any(String), key: 'k-39' }, limit: 10 });
      expect(await sweep.sweep(now + 750)).toMatchObject({ published: 0 });
      expect(index.pages.at(-2)).toEqual({ limit: 10 });
      expect(new Set(published.map((m) => m.key)).size).toBe(45);
    });

    it('should get past a page of expiries in flight to the keys behind it', async () => {
      const { sweep, index, published } = setup({ pageSize: 10, maxPages: 2 });
      for (let i = 0; i < 10; i++) index.add(`a-${i}`, 1, now - 5_000);
      await sweep.sweep(now);
      expect(published).toHaveLength(10);
      index.add('b', 1, now - 10);
      await sweep.sweep(now + 250);
      expect(published.map((m) => m.key).at(-1)).toBe('b');
    });

    it('should walk keys of one expiry instant beyond a page by key', async () => {
      const { sweep, index, published } = setup({ pageSize: 3, maxPages: 10 });
      for (let i = 0; i < 7; i++) index.add(`same-${i}`, 1, now - 1_000);
      expect(await sweep.sweep(now)).toEqual({ scanned: 7, published: 7, failed: 0 });
      expect(new Set(published.map((m) => m.key)).size).toBe(7);
    });
  });
});
