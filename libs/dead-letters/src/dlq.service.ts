import { DEAD_LETTER_QUEUE, shardOf, shardQueueName } from '@keyflow/contracts';
import { formatTable, type DeadLetter } from './dead-letter.util';
import type { DeadLetterQueue, HeldLetter } from './dead-letter-queue.service';
import { decideReplay, type PendingReplay } from './replay-decision.util';
import type { ReplayStore } from './replay-store.service';

export interface Output {
  log(line: string): void;
  error(line: string): void;
}

/** Which letters a command acts on: `--all`, or those of the `--id`s. */
export interface Selection {
  ids: Set<string>;
  all: boolean;
}

/** Rows `list` shows unless `--limit` says otherwise. */
const TABLE_PAGE = 50;
/** Rows a purge without `--yes` shows; the rest are counted. */
const PREVIEW_ROWS = 100;
/** Removed letters whose records are released for retention at once (after one round trip to the broker). */
const RELEASE_BATCH = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * `npm run dlq -- list | replay | purge`. Every command streams the queue: it takes one letter at a time and holds
 * only that one in memory, whatever the queue's length. Letters it keeps (not selected, refused, before a page)
 * stay unacknowledged and return to the queue, in order, when the caller closes it.
 *
 * A removed letter's operation record is released for retention only after the broker has the removal
 * (`DeadLetterQueue.flush`), and only if its dead-letter mark is still the one read (`ReplayStore.letterRemoved`):
 * until then retention keeps the record, which is what stops a replay from applying the operation twice.
 */
export class DlqService {
  private releases: Array<{ operationId: string; deadLetteredAt: string }> = [];

  constructor(
    private readonly queue: DeadLetterQueue,
    private readonly store: ReplayStore | undefined,
    private readonly out: Output,
    private readonly shards: number,
  ) {}

  /**
   * Letters `offset + 1` to `offset + limit`, taking none past them. The table shows a page (`limit` 50 unless
   * given); JSON is an array, of every letter unless `limit` is given, written one element at a time.
   */
  async list({ offset, limit, json }: { offset: number; limit?: number; json: boolean }): Promise<number> {
    const total = await this.queue.size();
    const end = Math.min(total, offset + (limit ?? (json ? total : TABLE_PAGE)));
    if (json) {
      // Each element is printed once the next one is known, so the last one goes without a comma.
      let previous: DeadLetter | undefined;
      this.out.log('[');
      for (let i = 0; i < end; i++) {
        const held = await this.queue.next();
        if (!held) break;
        if (i < offset) continue;
        if (previous) this.out.log(`  ${JSON.stringify(previous)},`);
        previous = held.letter;
      }
      if (previous) this.out.log(`  ${JSON.stringify(previous)}`);
      this.out.log(']');
      return 0;
    }
    const page: DeadLetter[] = [];
    for (let i = 0; i < end; i++) {
      const held = await this.queue.next();
      if (!held) break;
      if (i >= offset) page.push(held.letter);
    }
    if (total === 0) {
      this.out.log('the dead-letter queue is empty');
      return 0;
    }
    if (page.length === 0) {
      this.out.log(`no dead letters from offset ${offset}: ${DEAD_LETTER_QUEUE} holds ${total}`);
      return 0;
    }
    for (const line of formatTable(page, offset + 1).split('\n')) this.out.log(line);
    const last = offset + page.length;
    const next = last < total ? `; next page: npm run dlq -- list --offset ${last} --limit ${limit ?? TABLE_PAGE}` : '';
    this.out.log('');
    this.out.log(`dead letters ${offset + 1}–${last} of ${total} in ${DEAD_LETTER_QUEUE}${next}`);
    return 0;
  }

  /**
   * Puts letters back on their shard queue, at the tail, each only after `decideReplay` allowed it and the database
   * recorded the key version it may apply at (the worker refuses it at any other). The publish is confirmed before
   * the letter is removed: a crash in between leaves a duplicate letter, whose operation then has an outcome and is
   * never replayed again.
   */
  async replay({ ids, all, force }: Selection & { force: boolean }): Promise<number> {
    const store = this.requireStore('replay');
    const pending = new Map<string, PendingReplay>();
    const counts = { replayed: 0, settled: 0, refused: 0, failed: 0 };
    let exit = 0;
    const found = await this.scan({ ids, all }, async (held) => {
      const { letter } = held;
      const id = letter.operationId ?? '(no operation id)';
      const readable = letter.operationId !== undefined && UUID.test(letter.operationId);
      const state = readable ? await store.inspect(id, letter.key) : {};
      const previous = letter.key === undefined ? undefined : pending.get(letter.key);
      const decision = decideReplay(letter, state, { force, ...(previous ? { pending: previous } : {}) });
      switch (decision.kind) {
        case 'unreadable':
          this.out.error(`cannot replay ${id}: ${decision.reason}`);
          counts.refused++;
          exit = 1;
          return;
        case 'refused':
          this.out.error(`refused ${id}: ${decision.warning}; add --force to replay it anyway`);
          counts.refused++;
          exit = 1;
          return;
        case 'settled': {
          this.queue.remove(held);
          await this.release(id, state.record?.deadLetteredAt);
          const outcome =
            decision.status === 'applied'
              ? `was already applied (version ${decision.version})`
              : `already ended in a conflict (at version ${decision.version})`;
          this.out.log(`${id} ${outcome}: nothing to replay; dead letter removed`);
          counts.settled++;
          return;
        }
        case 'replay':
          break;
      }
      // decideReplay returns 'replay' only for a letter with a key, a put or delete type and an accepted-at time.
      const key = letter.key as string;
      const acceptedAt = letter.acceptedAt as string;
      const type = letter.type as 'put' | 'delete';
      if (decision.warning) this.out.error(`warning: ${decision.warning}; replaying anyway (--force)`);
      let mark: string | undefined;
      try {
        mark = await store.authorize({ id, key, type, acceptedAt }, decision.atVersion);
        if (mark === undefined) {
          // It got an outcome between the check and now (a redelivery was applied): nothing to replay.
          this.queue.remove(held);
          await this.release(id, (await store.inspect(id)).record?.deadLetteredAt);
          this.out.log(`${id} got an outcome meanwhile: nothing to replay; dead letter removed`);
          counts.settled++;
          return;
        }
        const queue = shardQueueName(shardOf(key, this.shards));
        await this.queue.publish(queue, held);
        this.queue.remove(held);
        await this.release(id, mark);
        pending.set(key, {
          version: decision.atVersion + 1,
          acceptedAt:
            previous && Date.parse(previous.acceptedAt) > Date.parse(acceptedAt) ? previous.acceptedAt : acceptedAt,
        });
        counts.replayed++;
        this.out.log(
          `replayed ${id} (${type} ${key}) to ${queue}; it applies only while ${key} is at version ${decision.atVersion}`,
        );
      } catch (err) {
        // The authorisation may stay recorded: harmless, it only lets this operation apply at that version.
        this.out.error(`could not replay ${id}: ${message(err)} (the dead letter stays)`);
        counts.failed++;
        exit = 1;
      }
    });
    await this.flushReleases();
    if (this.reportMissing(ids, all, found)) exit = 1;
    this.out.log(
      `${counts.replayed} replayed, ${counts.settled} already settled, ${counts.refused} refused` +
        (counts.failed ? `, ${counts.failed} failed` : ''),
    );
    return exit;
  }

  /** Deletes letters for good (`yes`), or shows which it would. */
  async purge({ ids, all, yes }: Selection & { yes: boolean }): Promise<number> {
    if (!yes) return this.previewPurge({ ids, all });
    const store = this.requireStore('purge --yes');
    let purged = 0;
    const found = await this.scan({ ids, all }, async (held) => {
      const id = held.letter.operationId;
      const mark = id !== undefined && UUID.test(id) ? (await store.inspect(id)).record?.deadLetteredAt : undefined;
      this.queue.remove(held);
      await this.release(id, mark);
      purged++;
      if (!all) this.out.log(`purged ${id ?? '(no operation id)'}`);
    });
    await this.flushReleases();
    const missing = this.reportMissing(ids, all, found);
    this.out.log(`${purged} dead letter(s) purged`);
    return missing ? 1 : 0;
  }

  private async previewPurge(selection: Selection): Promise<number> {
    const preview: DeadLetter[] = [];
    let count = 0;
    const found = await this.scan(selection, (held) => {
      if (preview.length < PREVIEW_ROWS) preview.push(held.letter);
      count++;
      return Promise.resolve();
    });
    if (count > 0) for (const line of formatTable(preview).split('\n')) this.out.log(line);
    if (count > preview.length) this.out.log(`… and ${count - preview.length} more`);
    const missing = this.reportMissing(selection.ids, selection.all, found);
    this.out.log(`would delete ${count} dead letter(s); add --yes to delete them`);
    return count > 0 || missing ? 1 : 0;
  }

  /**
   * Visits the selected letters among those waiting when the scan began, one at a time; stops early once every
   * requested id was seen. Remembers only the requested ids it saw (none for `--all`).
   */
  private async scan(selection: Selection, visit: (held: HeldLetter) => Promise<void>): Promise<Set<string>> {
    const found = new Set<string>();
    const total = await this.queue.size();
    for (let i = 0; i < total; i++) {
      if (!selection.all && found.size === selection.ids.size) break;
      const held = await this.queue.next();
      if (!held) break;
      const id = held.letter.operationId;
      const wanted = id !== undefined && selection.ids.has(id);
      if (wanted) found.add(id);
      if (selection.all || wanted) await visit(held);
    }
    return found;
  }

  private reportMissing(ids: Set<string>, all: boolean, found: Set<string>): boolean {
    if (all) return false;
    const missing = [...ids].filter((id) => !found.has(id));
    for (const id of missing) this.out.error(`no dead letter for operation ${id}`);
    return missing.length > 0;
  }

  private async release(operationId: string | undefined, deadLetteredAt: string | undefined): Promise<void> {
    if (operationId === undefined || deadLetteredAt === undefined) return;
    this.releases.push({ operationId, deadLetteredAt });
    if (this.releases.length >= RELEASE_BATCH) await this.flushReleases();
  }

  private async flushReleases(): Promise<void> {
    if (this.releases.length === 0) return;
    const batch = this.releases;
    this.releases = [];
    await this.queue.flush();
    for (const { operationId, deadLetteredAt } of batch) {
      try {
        await this.store?.letterRemoved(operationId, deadLetteredAt);
      } catch (err) {
        // The record just stays past its retention; nothing is replayed or lost because of it.
        this.out.error(`could not release the record of ${operationId} for retention: ${message(err)}`);
      }
    }
  }

  private requireStore(command: string): ReplayStore {
    if (!this.store) throw new Error(`${command} needs the database (--database <url>)`);
    return this.store;
  }
}
