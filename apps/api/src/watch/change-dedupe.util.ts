import type { ChangeHead } from '@keyflow/contracts';

/**
 * How far before a change's `updatedAt` (its commit time, on its worker's clock) its first copy may sit in the stream,
 * by the stream's own (broker) clock: the first copy is published after the commit, so this only absorbs clock skew
 * between workers and brokers, and the stream's one-second timestamps.
 */
export const REDO_LOOKBACK_MS = 60_000;

/** What a watcher does with a change: deliver it, leave it out, or first read the stream back from `fromMs`. */
export type DedupeDecision = { action: 'deliver' } | { action: 'drop' } | { action: 'look-back'; fromMs: number };

/**
 * Decides which changes of the stream a watcher delivers, so that every watcher of a prefix delivers the same
 * sequence whatever revision it started from: that is what makes `Last-Event-ID` resume exact.
 *
 * The rule, a property of the stream alone: a change is delivered unless an earlier message of the stream carries the
 * same key and version. Only a change marked `redo` can have such a copy (see `CHANGE_HEADERS.redo`); any other is
 * the first and only copy published by the worker that applied it, on its first try. For a `redo` change the
 * deduper consults what it has seen of the stream (the highest version per key, from `coveredSinceMs` on): a
 * version at or below the highest seen is a copy; otherwise, if its first copy cannot be older than what it has
 * seen (`updatedAt - REDO_LOOKBACK_MS` at or after `coveredSinceMs`), it is the first. Otherwise the watcher reads
 * the stream back from that time up to the change (`look-back`), feeding what it reads to `observe`, and asks again.
 *
 * Per key, first copies reach the stream in version order (one channel per shard, publish before ack), so "a higher
 * version was seen" also means the copy was. A change without `redo` at or below the highest version seen would
 * break that order; it is left out too, so that versions per key always rise on a watch.
 *
 * Memory: one entry per key seen under the prefix, up to `maxKeys`; beyond that it forgets everything and its
 * coverage with it (a later `redo` change then costs a look-back), never correctness.
 */
export class ChangeDeduper {
  private readonly highest = new Map<string, number>();
  /** Counts the times memory was dropped: a look-back covers the stream only if none happened meanwhile. */
  private forgotten = 0;

  /**
   * @param coveredSinceMs from when on (stream time, ms) every change of the stream is seen by this watcher:
   *   its start for a watch that starts now; `Infinity` for one that resumes (nothing before its revision is seen).
   */
  constructor(
    private coveredSinceMs: number,
    private readonly maxKeys = 100_000,
  ) {}

  decide(change: Pick<ChangeHead, 'key' | 'version' | 'updatedAt' | 'redo'>): DedupeDecision {
    const highest = this.highest.get(change.key) ?? 0;
    if (change.version <= highest) return { action: 'drop' };
    if (!change.redo) return { action: 'deliver' };
    const fromMs = Date.parse(change.updatedAt) - REDO_LOOKBACK_MS;
    if (Number.isNaN(fromMs) || fromMs >= this.coveredSinceMs) return { action: 'deliver' };
    return { action: 'look-back', fromMs };
  }

  /** A change of the stream, delivered or not (a look-back feeds the changes it reads here). */
  observe(change: Pick<ChangeHead, 'key' | 'version'>): void {
    if (change.version <= (this.highest.get(change.key) ?? 0)) return;
    if (!this.highest.has(change.key) && this.highest.size >= this.maxKeys) {
      this.highest.clear();
      this.coveredSinceMs = Infinity;
      this.forgotten += 1;
    }
    this.highest.set(change.key, change.version);
  }

  /** Marks the start of a look-back; pass it to `coveredFrom`. */
  get generation(): number {
    return this.forgotten;
  }

  /**
   * A look-back read every change from `fromMs` up to the current one: the deduper has seen all of them, unless it
   * had to forget meanwhile. Returns whether the coverage now reaches back to `fromMs`.
   */
  coveredFrom(fromMs: number, generation: number): boolean {
    if (generation !== this.forgotten) return false;
    this.coveredSinceMs = Math.min(this.coveredSinceMs, fromMs);
    return true;
  }
}
