import { describe, expect, it } from 'vitest';
import { axisMax, formatMetric, formatWindow, linePath } from './chart.util';

const box = { width: 100, height: 50, start: 1_000, end: 1_100, stepSeconds: 10 };

describe('chart', () => {
  describe(axisMax.name, () => {
    it('should round the largest value up to 1, 2 or 5 times a power of ten', () => {
      expect(axisMax([3, 7.2], 'req/s')).toBe(10);
      expect(axisMax([130], 'messages')).toBe(200);
      expect(axisMax([0.004], 'seconds')).toBe(0.01);
      expect(axisMax([0.3], 'seconds')).toBe(0.5);
      expect(axisMax([1_500], 'bytes')).toBe(2_000);
    });

    it('should give a panel of zeros (or none) an axis, and never take a ratio past 1', () => {
      expect(axisMax([], 'instances')).toBe(1);
      expect(axisMax([0, 0], 'req/s')).toBe(1);
      expect(axisMax([0.9], 'ratio')).toBe(1);
      expect(axisMax([0], 'ratio')).toBe(0.01);
    });
  });

  describe(linePath.name, () => {
    it('should draw time across and value up, 0 at the bottom', () => {
      expect(
        linePath(
          [
            { t: 1_000, v: 0 },
            { t: 1_010, v: 5 },
            { t: 1_020, v: 10 },
          ],
          box,
          10,
        ),
      ).toBe('M0,50 L10,25 L20,0');
    });

    it('should break the line where a step is missing and clamp values to the axis', () => {
      expect(
        linePath(
          [
            { t: 1_000, v: 20 },
            { t: 1_010, v: -1 },
            { t: 1_050, v: 5 },
          ],
          box,
          10,
        ),
      ).toBe('M0,0 L10,50 M50,25');
    });

    it('should draw nothing for no points', () => {
      expect(linePath([], box, 10)).toBe('');
    });
  });

  describe(formatMetric.name, () => {
    it('should say each value in its unit', () => {
      expect(formatMetric(12.345, 'req/s')).toBe('12.3 req/s');
      expect(formatMetric(0.5, 'req/s')).toBe('0.50 req/s');
      expect(formatMetric(0.012, 'ratio')).toBe('1.2 %');
      expect(formatMetric(0.25, 'ratio')).toBe('25 %');
      expect(formatMetric(0.34, 'seconds')).toBe('340 ms');
      expect(formatMetric(0.0042, 'seconds')).toBe('4.2 ms');
      expect(formatMetric(1.5, 'seconds')).toBe('1.50 s');
      expect(formatMetric(42, 'messages')).toBe('42');
      expect(formatMetric(0, 'bytes')).toBe('0 B');
      expect(formatMetric(16_384, 'bytes')).toBe('16 KiB');
      expect(formatMetric(1.5 * 1024 ** 2, 'bytes')).toBe('1.5 MiB');
      expect(formatMetric(5.5, 'instances')).toBe('5.5');
    });
  });

  describe(formatWindow.name, () => {
    it('should say the window in minutes or hours', () => {
      expect(formatWindow(900)).toBe('15 min');
      expect(formatWindow(6 * 3600)).toBe('6 h');
    });
  });
});
