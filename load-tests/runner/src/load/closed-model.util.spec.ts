import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { rampingTarget, runClosedModel } from './closed-model.util';

describe('closed-model.util', () => {
  describe(rampingTarget.name, () => {
    const stages = [
      { duration: '10s', target: 100 },
      { duration: '10s', target: 100 },
      { duration: '5s', target: 0 },
    ];

    it('should interpolate linearly within a stage, rounding down', () => {
      expect(rampingTarget(0, stages, 0)).toBe(0);
      expect(rampingTarget(0, stages, 2_500)).toBe(25);
      expect(rampingTarget(0, stages, 9_999)).toBe(99);
      expect(rampingTarget(0, stages, 15_000)).toBe(100);
      expect(rampingTarget(0, stages, 22_500)).toBe(50);
    });

    it('should hold the last target after the stages', () => {
      expect(rampingTarget(0, stages, 60_000)).toBe(0);
      expect(rampingTarget(5, [], 1000)).toBe(5);
    });
  });

  describe(runClosedModel.name, () => {
    it('should keep each VU busy back to back for the duration', async () => {
      const perVu = new Map<number, number>();
      const result = await runClosedModel({
        targetVUs: () => 4,
        durationMs: 200,
        gracefulStopMs: 100,
        iteration: async (vu) => {
          perVu.set(vu, (perVu.get(vu) ?? 0) + 1);
          await delay(10);
        },
      });
      expect(result.peakVUs).toBe(4);
      expect([...perVu.keys()].sort()).toEqual([0, 1, 2, 3]);
      // ~20 iterations of 10 ms per VU in 200 ms; timers are coarse, so only the order of magnitude is asserted.
      for (const n of perVu.values()) expect(n).toBeGreaterThan(8);
      expect(result.elapsedMs).toBeLessThan(400);
    });

    it('should stop as soon as the iteration budget is spent', async () => {
      const result = await runClosedModel({
        targetVUs: () => 8,
        durationMs: 10_000,
        gracefulStopMs: 100,
        maxIterations: 500,
        iteration: () => delay(1),
      });
      expect(result.iterations).toBe(500);
      expect(result.budgetExhausted).toBe(true);
      expect(result.elapsedMs).toBeLessThan(2000);
    });

    it('should add VUs as the target ramps up and retire them as it ramps down', async () => {
      const active = new Set<number>();
      let peak = 0;
      const result = await runClosedModel({
        targetVUs: (elapsed) => (elapsed < 150 ? Math.floor(elapsed / 30) + 1 : 1),
        durationMs: 300,
        gracefulStopMs: 100,
        tickMs: 10,
        iteration: async (vu) => {
          active.add(vu);
          peak = Math.max(peak, active.size);
          await delay(5);
          active.delete(vu);
        },
      });
      expect(peak).toBeGreaterThanOrEqual(4);
      expect(result.peakVUs).toBeGreaterThanOrEqual(4);
    });
  });
});
