import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './histogram.util';

describe(LatencyHistogram.name, () => {
  describe('summary', () => {
    it('should report zeros when nothing was recorded', () => {
      expect(new LatencyHistogram().summary()).toEqual({
        count: 0,
        minMs: 0,
        meanMs: 0,
        p50Ms: 0,
        p90Ms: 0,
        p95Ms: 0,
        p99Ms: 0,
        maxMs: 0,
      });
    });

    it('should report percentiles within 0.1% of the recorded values', () => {
      const h = new LatencyHistogram();
      for (let i = 1; i <= 1000; i++) h.recordMs(i / 10); // 0.1 ms … 100 ms
      const s = h.summary();
      expect(s.count).toBe(1000);
      expect(s.minMs).toBeCloseTo(0.1, 3);
      expect(s.p50Ms).toBeCloseTo(50, 0);
      expect(s.p95Ms).toBeCloseTo(95, 0);
      expect(s.p99Ms).toBeCloseTo(99, 0);
      expect(Math.abs(s.maxMs - 100) / 100).toBeLessThan(0.001);
      expect(s.meanMs).toBeCloseTo(50.05, 1);
    });
  });

  describe('merge', () => {
    it('should combine the values of several histograms', () => {
      const a = new LatencyHistogram();
      const b = new LatencyHistogram();
      a.recordMs(1);
      b.recordMs(3);
      b.recordMs(5);
      const merged = LatencyHistogram.merge([a, b]);
      expect(merged.count).toBe(3);
      expect(merged.minMs).toBeCloseTo(1, 2);
      expect(merged.maxMs).toBeCloseTo(5, 2);
    });
  });
});
