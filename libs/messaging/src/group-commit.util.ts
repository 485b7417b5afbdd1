export interface GroupCommitOptions {
  /** Most items in one group. */
  maxItems: number;
  /** Most bytes in one group; an item larger than this alone still goes out, alone. */
  maxBytes: number;
  /** Groups of one lane that may be in flight at once; 1 gives the classic group commit. */
  maxInFlight: number;
  /**
   * Groups of all lanes together that may be in flight at once. A broker's cost is per message, so while this many
   * are out, writes wait and join larger groups; without it, load spread over many lanes (16 shards) makes groups of
   * one or two writes, each a message of its own.
   */
  maxInFlightTotal: number;
  /**
   * An item that waited this long in its lane without being sent is refused, unsent (its lane is stuck: the
   * groups ahead of it are waiting for a broker that does not answer).
   */
  maxWaitMs: number;
}

export const DEFAULT_GROUP_COMMIT: GroupCommitOptions = {
  maxItems: 500,
  maxBytes: 1024 * 1024,
  maxInFlight: 1,
  maxInFlightTotal: 4,
  maxWaitMs: 5_000,
};

/** An item of a lane that waited longer than `maxWaitMs` and was never sent. */
export class GroupCommitTimeoutError extends Error {
  constructor(waitedMs: number) {
    super(`not sent: it waited ${waitedMs} ms behind earlier writes the broker has not confirmed`);
    this.name = 'GroupCommitTimeoutError';
  }
}

interface Entry<T> {
  item: T;
  bytes: number;
  enqueuedAt: number;
  /** Submission order, across lanes: who waited longest. */
  seq: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Lane<T> {
  waiting: Entry<T>[];
  inFlight: number;
}

export interface GroupCommitStats {
  groups: number;
  items: number;
  largestGroup: number;
}

/**
 * Group commit: items submitted to a lane while that lane's send is in flight wait, and go out together, as one
 * group, when it returns. There is no timer: a lone item is sent at once, and under load groups grow by themselves
 * to what arrived during one round trip (up to `maxItems` and `maxBytes`). Order within a lane is kept: groups
 * leave in submission order, items in a group in submission order, and with `maxInFlight` 1 a group is sent only
 * once the previous one returned.
 *
 * `submit` resolves when the send of the item's group resolved, and rejects with that send's error, so every item
 * learns its own group's outcome and nothing else's.
 */
export class GroupCommitter<T> {
  private readonly lanes = new Map<number, Lane<T>>();
  private readonly counters: GroupCommitStats = { groups: 0, items: 0, largestGroup: 0 };
  private inFlight = 0;
  private submitted = 0;

  constructor(
    private readonly send: (lane: number, items: T[]) => Promise<void>,
    private readonly options: GroupCommitOptions = DEFAULT_GROUP_COMMIT,
    private readonly now: () => number = Date.now,
  ) {}

  submit(lane: number, item: T, bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let state = this.lanes.get(lane);
      if (!state) {
        state = { waiting: [], inFlight: 0 };
        this.lanes.set(lane, state);
      }
      state.waiting.push({ item, bytes, enqueuedAt: this.now(), seq: this.submitted++, resolve, reject });
      this.pump(lane, state);
      if (state.inFlight === 0 && state.waiting.length === 0) this.lanes.delete(lane);
    });
  }

  stats(): GroupCommitStats {
    return { ...this.counters };
  }

  private pump(lane: number, state: Lane<T>): void {
    while (
      state.inFlight < this.options.maxInFlight &&
      this.inFlight < this.options.maxInFlightTotal &&
      state.waiting.length > 0
    ) {
      const group = this.take(state);
      if (group.length === 0) continue;
      state.inFlight += 1;
      this.inFlight += 1;
      this.counters.groups += 1;
      this.counters.items += group.length;
      this.counters.largestGroup = Math.max(this.counters.largestGroup, group.length);
      let sent: Promise<void>;
      try {
        sent = this.send(
          lane,
          group.map((e) => e.item),
        );
      } catch (err) {
        sent = Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      sent.then(
        () => this.settle(state, group, undefined),
        (err: unknown) => this.settle(state, group, err ?? new Error('send failed')),
      );
    }
  }

  /** A group returned: its lane, then the lanes that waited longest, may send while slots are free. */
  private settle(state: Lane<T>, group: Entry<T>[], err: unknown): void {
    state.inFlight -= 1;
    this.inFlight -= 1;
    for (const entry of group) {
      if (err === undefined) entry.resolve();
      else entry.reject(err);
    }
    const ready = [...this.lanes].filter(([, s]) => s.waiting.length > 0 && s.inFlight < this.options.maxInFlight);
    ready.sort(([, a], [, b]) => (a.waiting[0]?.seq ?? 0) - (b.waiting[0]?.seq ?? 0));
    for (const [lane, s] of ready) {
      if (this.inFlight >= this.options.maxInFlightTotal) break;
      this.pump(lane, s);
    }
    for (const [lane, s] of this.lanes) if (s.inFlight === 0 && s.waiting.length === 0) this.lanes.delete(lane);
  }

  /** The next group: what waits, in order, within the caps; items that waited too long are refused on the way. */
  private take(state: Lane<T>): Entry<T>[] {
    const now = this.now();
    const group: Entry<T>[] = [];
    let bytes = 0;
    while (state.waiting.length > 0 && group.length < this.options.maxItems) {
      const next = state.waiting[0];
      const waited = now - next.enqueuedAt;
      if (waited > this.options.maxWaitMs) {
        state.waiting.shift();
        next.reject(new GroupCommitTimeoutError(waited));
        continue;
      }
      if (group.length > 0 && bytes + next.bytes > this.options.maxBytes) break;
      state.waiting.shift();
      group.push(next);
      bytes += next.bytes;
    }
    return group;
  }
}
