import { beforeEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, decodeWriteText, shardOf, shardQueueName } from '@keyflow/contracts';
import { DlqService } from './dlq.service';
import { FakeDeadLetterQueue } from './testing/fake-dead-letter-queue';
import { FakeReplayStore } from './testing/fake-replay-store';

const SHARDS = 16;
const opId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 10, minute)).toISOString();
const body = (n: number, key = `k${n}`, acceptedAt = at(0)) => ({
  v: 1,
  id: opId(n),
  key,
  type: 'put',
  value: n,
  acceptedAt,
});
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const MORE_THAN_A_PREFETCH_WINDOW = 70_000;
/** Tens of thousands of letters through the in-memory queue take a few seconds on a busy machine. */
const LARGE = { timeout: 60_000 };

describe(DlqService.name, () => {
  let out: { lines: string[]; errors: string[]; log: (l: string) => void; error: (l: string) => void };
  let store: FakeReplayStore;

  beforeEach(() => {
    const lines: string[] = [];
    const errors: string[] = [];
    out = { lines, errors, log: (l) => void lines.push(l), error: (l) => void errors.push(l) };
    store = new FakeReplayStore();
  });

  const serviceFor = (queue: FakeDeadLetterQueue) => new DlqService(queue, store, out, SHARDS);
  /** `key` was written at version 7 by a newer operation (9) than the letters' (accepted at minute 0). */
  const writtenSince = (key: string) =>
    store.lastWrites.set(key, {
      key,
      valueJson: '"newer"',
      version: 7,
      deleted: false,
      updatedAt: at(31),
      lastOperationId: opId(9),
      lastAcceptedAt: at(30),
    });

  describe('list', () => {
    it('should show one page of more than 65,535 letters, taking no letter past the page', LARGE, async () => {
      const queue = new FakeDeadLetterQueue(range(MORE_THAN_A_PREFETCH_WINDOW).map((n) => body(n)));
      const exit = await serviceFor(queue).list({ offset: 100, limit: 3, json: false });
      expect(exit).toBe(0);
      expect(queue.takenCount).toBe(103);
      expect(queue.removed).toEqual([]);
      expect(out.lines[0]).toMatch(/^#\s+operation\s+type\s+key\s+accepted at\s+reason/);
      expect(out.lines.slice(1, 4).map((l) => l.split(/\s+/).slice(0, 2))).toEqual([
        ['101', opId(100)],
        ['102', opId(101)],
        ['103', opId(102)],
      ]);
      expect(out.lines.at(-1)).toBe(
        `dead letters 101–103 of ${MORE_THAN_A_PREFETCH_WINDOW} in ${DEAD_LETTER_QUEUE}; next page: npm run dlq -- list --offset 103 --limit 3`,
      );
    });

    it('should say there is no further page on the last one', async () => {
      const queue = new FakeDeadLetterQueue(range(2).map((n) => body(n)));
      await serviceFor(queue).list({ offset: 0, json: false });
      expect(out.lines.at(-1)).toBe(`dead letters 1–2 of 2 in ${DEAD_LETTER_QUEUE}`);
    });

    it('should print a page as a JSON array', async () => {
      const queue = new FakeDeadLetterQueue(range(3).map((n) => body(n)));
      await serviceFor(queue).list({ offset: 1, limit: 1, json: true });
      expect(JSON.parse(out.lines.join('\n'))).toEqual([
        expect.objectContaining({ operationId: opId(1), key: 'k1', acceptedAt: at(0) }),
      ]);
    });

    it(
      'should stream every one of more than 65,535 letters as one JSON array when no limit is given',
      LARGE,
      async () => {
        const queue = new FakeDeadLetterQueue(range(MORE_THAN_A_PREFETCH_WINDOW).map((n) => body(n)));
        await serviceFor(queue).list({ offset: 0, json: true });
        const letters = JSON.parse(out.lines.join('\n')) as Array<{ operationId: string }>;
        expect(letters).toHaveLength(MORE_THAN_A_PREFETCH_WINDOW);
        expect(letters.at(-1)?.operationId).toBe(opId(MORE_THAN_A_PREFETCH_WINDOW - 1));
        expect(queue.removed).toEqual([]);
      },
    );

    it('should print an empty JSON array for an empty queue', async () => {
      await serviceFor(new FakeDeadLetterQueue([])).list({ offset: 0, json: true });
      expect(JSON.parse(out.lines.join('\n'))).toEqual([]);
    });

    it('should say when the queue is empty', async () => {
      await serviceFor(new FakeDeadLetterQueue([])).list({ offset: 0, json: false });
      expect(out.lines).toEqual(['the dead-letter queue is empty']);
    });
  });

  describe('replay', () => {
    it('should publish a letter whose key was not written since to its shard queue, then remove it and release its record', async () => {
      const queue = new FakeDeadLetterQueue([body(1, 'user:1')]);
      store.records.set(opId(1), { id: opId(1), key: 'user:1', status: 'failed', deadLetteredAt: at(1) });
      store.lastWrites.set('user:1', {
        key: 'user:1',
        valueJson: '0',
        version: 4,
        deleted: false,
        updatedAt: at(0),
        lastOperationId: opId(0),
        lastAcceptedAt: at(-1),
      });
      store.onRelease = (id) => expect(queue.confirmedRemovals.has(id)).toBe(true);

      const exit = await serviceFor(queue).replay({ ids: new Set([opId(1)]), all: false, force: false });

      expect(exit).toBe(0);
      expect(store.authorized).toEqual([{ id: opId(1), atVersion: 4 }]);
      expect(queue.published).toEqual([
        {
          queue: shardQueueName(shardOf('user:1', SHARDS)),
          operationId: opId(1),
          content: JSON.stringify(body(1, 'user:1')),
        },
      ]);
      expect(queue.removed).toEqual([opId(1)]);
      expect(store.released).toEqual([opId(1)]);
      expect(out.lines).toContain(
        `replayed ${opId(1)} (put user:1) to ${shardQueueName(shardOf('user:1', SHARDS))}; it applies only while user:1 is at version 4`,
      );
    });

    it('should replay a letter exactly as it was, so the write keeps the id of the request that made it', async () => {
      const letter = { ...body(2, 'user:2'), requestId: '0f1e2d3c4b5a69788796a5b4c3d2e1f0' };
      const queue = new FakeDeadLetterQueue([letter]);
      store.records.set(opId(2), { id: opId(2), key: 'user:2', status: 'failed', deadLetteredAt: at(1) });

      expect(await serviceFor(queue).replay({ ids: new Set([opId(2)]), all: false, force: false })).toBe(0);

      expect(queue.published.map((p) => p.content)).toEqual([JSON.stringify(letter)]);
      expect(decodeWriteText(queue.published[0]?.content ?? '').message.requestId).toBe(letter.requestId);
    });

    it('should refuse a letter whose key has newer writes: keep it, say what it would overwrite, exit 1', async () => {
      const queue = new FakeDeadLetterQueue([body(1, 'user:1')]);
      writtenSince('user:1');

      const exit = await serviceFor(queue).replay({ ids: new Set([opId(1)]), all: false, force: false });

      expect(exit).toBe(1);
      expect(queue.published).toEqual([]);
      expect(queue.removed).toEqual([]);
      expect(store.authorized).toEqual([]);
      expect(out.errors).toEqual([
        `refused ${opId(1)}: key "user:1" is at version 7 (value "newer", written by operation ${opId(9)} accepted at ${at(30)}, applied at ${at(31)}), newer than this dead letter (put accepted at ${at(0)}): replaying it would overwrite that; add --force to replay it anyway`,
      ]);
    });

    it('should replay over newer writes with --force, after printing the warning', async () => {
      const queue = new FakeDeadLetterQueue([body(1, 'user:1')]);
      writtenSince('user:1');

      const exit = await serviceFor(queue).replay({ ids: new Set([opId(1)]), all: false, force: true });

      expect(exit).toBe(0);
      expect(out.errors[0]).toMatch(
        /^warning: key "user:1" is at version 7 .* would overwrite that; replaying anyway \(--force\)$/,
      );
      expect(store.authorized).toEqual([{ id: opId(1), atVersion: 7 }]);
      expect(queue.published).toHaveLength(1);
    });

    it('should remove, without publishing, a letter whose operation was already applied', async () => {
      const queue = new FakeDeadLetterQueue([body(1)]);
      store.records.set(opId(1), { id: opId(1), key: 'k1', status: 'applied', version: 5, deadLetteredAt: at(2) });

      const exit = await serviceFor(queue).replay({ ids: new Set([opId(1)]), all: false, force: true });

      expect(exit).toBe(0);
      expect(queue.published).toEqual([]);
      expect(queue.removed).toEqual([opId(1)]);
      expect(store.released).toEqual([opId(1)]);
      expect(out.lines).toContain(`${opId(1)} was already applied (version 5): nothing to replay; dead letter removed`);
    });

    it('should keep the letter when its publish fails', async () => {
      const queue = new FakeDeadLetterQueue([body(1)]);
      queue.failNextPublish = new Error('Channel closed');

      const exit = await serviceFor(queue).replay({ ids: new Set([opId(1)]), all: false, force: false });

      expect(exit).toBe(1);
      expect(queue.removed).toEqual([]);
      expect(out.errors).toEqual([`could not replay ${opId(1)}: Channel closed (the dead letter stays)`]);
    });

    it('should replay each of more than 65,535 letters while holding one at a time', LARGE, async () => {
      const queue = new FakeDeadLetterQueue(range(MORE_THAN_A_PREFETCH_WINDOW).map((n) => body(n)));

      const exit = await serviceFor(queue).replay({ ids: new Set(), all: true, force: false });

      expect(exit).toBe(0);
      expect(queue.published).toHaveLength(MORE_THAN_A_PREFETCH_WINDOW);
      expect(queue.operationIds()).toEqual([]);
      expect(queue.maxHeld).toBe(1);
      expect(out.lines.at(-1)).toBe(`${MORE_THAN_A_PREFETCH_WINDOW} replayed, 0 already settled, 0 refused`);
    });

    it('should chain letters of one key in one run, each to apply at the version the one before writes', async () => {
      const queue = new FakeDeadLetterQueue([body(1, 'k', at(1)), body(2, 'k', at(2))]);
      store.lastWrites.set('k', {
        key: 'k',
        valueJson: '0',
        version: 2,
        deleted: false,
        updatedAt: at(0),
        lastOperationId: opId(0),
        lastAcceptedAt: at(0),
      });

      await serviceFor(queue).replay({ ids: new Set(), all: true, force: false });

      expect(store.authorized).toEqual([
        { id: opId(1), atVersion: 2 },
        { id: opId(2), atVersion: 3 },
      ]);
    });

    it('should report an operation that has no dead letter, having looked no further than the queue was long', async () => {
      const queue = new FakeDeadLetterQueue([body(1), body(2)]);

      const exit = await serviceFor(queue).replay({ ids: new Set([opId(7)]), all: false, force: false });

      expect(exit).toBe(1);
      expect(queue.takenCount).toBe(2);
      expect(out.errors).toEqual([`no dead letter for operation ${opId(7)}`]);
    });

    it('should stop taking letters once every requested one was found', async () => {
      const queue = new FakeDeadLetterQueue(range(1_000).map((n) => body(n)));

      await serviceFor(queue).replay({ ids: new Set([opId(3)]), all: false, force: false });

      expect(queue.takenCount).toBe(4);
      expect(queue.published.map((p) => p.operationId)).toEqual([opId(3)]);
    });
  });

  describe('purge', () => {
    it('should only show what it would delete without --yes', LARGE, async () => {
      const queue = new FakeDeadLetterQueue(range(MORE_THAN_A_PREFETCH_WINDOW).map((n) => body(n)));

      const exit = await serviceFor(queue).purge({ ids: new Set(), all: true, yes: false });

      expect(exit).toBe(1);
      expect(queue.removed).toEqual([]);
      expect(out.lines.filter((l) => l.includes(opId(0).slice(0, 20)))).toHaveLength(100);
      expect(out.lines.slice(-2)).toEqual([
        `… and ${MORE_THAN_A_PREFETCH_WINDOW - 100} more`,
        `would delete ${MORE_THAN_A_PREFETCH_WINDOW} dead letter(s); add --yes to delete them`,
      ]);
    });

    it(
      'should delete more than 65,535 letters with --all --yes and release their records for retention',
      LARGE,
      async () => {
        const queue = new FakeDeadLetterQueue(range(MORE_THAN_A_PREFETCH_WINDOW).map((n) => body(n)));
        store.records.set(opId(5), { id: opId(5), key: 'k5', status: 'failed', deadLetteredAt: at(3) });
        store.onRelease = (id) => expect(queue.confirmedRemovals.has(id)).toBe(true);

        const exit = await serviceFor(queue).purge({ ids: new Set(), all: true, yes: true });

        expect(exit).toBe(0);
        expect(queue.removed).toHaveLength(MORE_THAN_A_PREFETCH_WINDOW);
        expect(queue.maxHeld).toBe(1);
        expect(store.released).toEqual([opId(5)]);
        expect(out.lines.at(-1)).toBe(`${MORE_THAN_A_PREFETCH_WINDOW} dead letter(s) purged`);
      },
    );

    it('should delete only the letters asked for', async () => {
      const queue = new FakeDeadLetterQueue([body(1), body(2), body(3)]);

      const exit = await serviceFor(queue).purge({ ids: new Set([opId(2)]), all: false, yes: true });
      await queue.close();

      expect(exit).toBe(0);
      expect(queue.operationIds()).toEqual([opId(1), opId(3)]);
    });
  });
});
