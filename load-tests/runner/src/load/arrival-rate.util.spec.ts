import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { iterationsDue, plannedIterations, runArrivalRate, type ArrivalRateOptions } from './arrival-rate.util';

describe('arrival-rate.util', () => {
  describe(iterationsDue.name, () => {
    it('should make the first iteration due at the start and one more every interval', () => {
      expect(iterationsDue(-1, 100, 1000)).toBe(0);
      expect(iterationsDue(0, 100, 1000)).toBe(1);
      expect(iterationsDue(9.99, 100, 1000)).toBe(1);
      expect(iterationsDue(10, 100, 1000)).toBe(2);
      expect(iterationsDue(500, 100, 1000)).toBe(51);
    });

    it('should never exceed the planned iterations', () => {
      expect(plannedIterations(2000, 60_000)).toBe(120_000);
      expect(iterationsDue(10_000, 100, 1000)).toBe(100);
    });
  });

  describe(runArrivalRate.name, () => {
    /** 100/s for 100 ms, 5 VUs, 100 ms graceful stop, iterations that end at once: each test names what differs. */
    const run = (options: Partial<ArrivalRateOptions>) =>
      runArrivalRate({
        ratePerSecond: 100,
        durationMs: 100,
        maxVUs: 5,
        gracefulStopMs: 100,
        iteration: () => Promise.resolve(),
        ...options,
      });

    it('should start every planned iteration at the rate when VUs are free', async () => {
      const startedAt: number[] = [];
      const t0 = performance.now();
      const result = await run({
        ratePerSecond: 200,
        durationMs: 500,
        maxVUs: 10,
        gracefulStopMs: 1000,
        iteration: async () => {
          startedAt.push(performance.now() - t0);
          await delay(2);
        },
      });
      expect(result).toMatchObject({ planned: 100, started: 100, dropped: 0, interrupted: 0 });
      // Open model: iteration i starts near i × 5 ms, not after the previous one finished.
      expect(startedAt[50]).toBeGreaterThanOrEqual(245);
      expect(startedAt[50]).toBeLessThan(350);
      expect(result.elapsedMs).toBeGreaterThanOrEqual(495);
    });

    it('should drop iterations instead of queueing them when every VU is busy', async () => {
      const result = await run({ durationMs: 300, maxVUs: 2, gracefulStopMs: 1000, iteration: () => delay(1000) });
      expect(result).toMatchObject({ planned: 30, started: 2, dropped: 28, peakVUs: 2 });
    });

    it('should stop waiting for slow iterations after the graceful stop', async () => {
      const result = await run({ ratePerSecond: 10, gracefulStopMs: 50, iteration: () => delay(5000) });
      expect(result.interrupted).toBe(1);
      expect(result.elapsedMs).toBeLessThan(1000);
    });

    it('should pass a failed iteration to onError and carry on', async () => {
      const errors: unknown[] = [];
      const result = await run({ iteration: () => Promise.reject(new Error('boom')), onError: (e) => errors.push(e) });
      expect(result.started).toBe(10);
      expect(errors).toHaveLength(10);
    });

    it('should stop scheduling when aborted', async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const result = await run({ durationMs: 10_000, signal: controller.signal });
      expect(result.started).toBeGreaterThan(5);
      expect(result.started).toBeLessThan(30);
    });
  });
});
