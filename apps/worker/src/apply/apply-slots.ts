/**
 * How many shard batches of one worker may be in a database transaction at once. The shard consumers queue
 * for a slot in arrival order.
 *
 * Why a limit at all: each shard applies its own batches, and with 16 shards there could be 16 transactions
 * per worker at once. A database on a few cores gains nothing from that, and under SERIALIZABLE the
 * transactions get in each other's way: PostgreSQL tracks reads per index page, so batches of different
 * shards whose keys share a page abort one another (40001) and are retried, wasting the work. Fewer, larger
 * batches apply more writes per second. Per-key order is untouched: a shard still applies one batch at a time.
 */
export class ApplySlots {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`apply slots must be a whole number ≥ 1, not ${limit}`);
  }

  /** Batches waiting for a slot right now (a gauge for metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next in line, or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
