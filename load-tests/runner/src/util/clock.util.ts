import { setTimeout as delay } from 'node:timers/promises';

/** Time as the load loops see it; a test can replace it. */
export interface Clock {
  /** Milliseconds, monotonic, sub-millisecond resolution. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  // A zero wait still yields to I/O (setImmediate), so response callbacks run between scheduling rounds.
  sleep: (ms) => (ms <= 0 ? new Promise<void>((resolve) => setImmediate(resolve)) : delay(ms)),
};
