import { describe, expect, it } from 'vitest';
import { METRICS_PANELS, type MetricsPanelDefinition } from './admin-metrics.constant';
import { matrixOf, metricsRange, panelSeries } from './admin-metrics.util';

function panel(name: string): MetricsPanelDefinition {
  const found = METRICS_PANELS.find((p) => p.name === name);
  if (!found) throw new Error(`no panel ${name}`);
  return found;
}

describe('admin metrics', () => {
  describe(metricsRange.name, () => {
    it('should cut 15 minutes into 60 steps of 15 s ending at the last whole step, rating over a minute', () => {
      const now = Date.parse('2026-12-01T12:00:07.500Z');
      const end = Date.parse('2026-12-01T12:00:00Z') / 1000;
      expect(metricsRange('15m', now)).toEqual({ start: end - 900, end, stepSeconds: 15, rateWindow: '60s' });
    });

    it('should rate over the whole step when a step is longer than a minute', () => {
      const now = Date.parse('2026-12-01T12:00:00Z');
      expect(metricsRange('1h', now)).toMatchObject({ stepSeconds: 60, rateWindow: '60s' });
      expect(metricsRange('6h', now)).toMatchObject({ stepSeconds: 360, rateWindow: '360s' });
      const { start, end } = metricsRange('6h', now);
      expect(end - start).toBe(6 * 3600);
    });

    it('should ask the same range for two calls within one step', () => {
      const now = Date.parse('2026-12-01T12:00:01Z');
      expect(metricsRange('15m', now)).toEqual(metricsRange('15m', now + 13_000));
    });
  });

  describe(panelSeries.name, () => {
    it('should name each series by the panel label, sort them, and drop the points that are NaN or infinite', () => {
      const series = panelSeries(panel('errorRatio'), [
        {
          metric: { keyflow_instance: 'api-2' },
          values: [
            [100, '0.5'],
            [115, 'NaN'],
            [130, '+Inf'],
            [145, '0'],
          ],
        },
        { metric: { keyflow_instance: 'api-1' }, values: [[100, '0.01']] },
      ]);
      expect(series).toEqual([
        { label: 'api-1', points: [{ t: 100, v: 0.01 }] },
        {
          label: 'api-2',
          points: [
            { t: 100, v: 0.5 },
            { t: 145, v: 0 },
          ],
        },
      ]);
    });

    it("should give a panel of one series that series' fixed name", () => {
      expect(panelSeries(panel('writeVisibilityP99'), [{ metric: {}, values: [[100, '1.25']] }])).toEqual([
        { label: 'p99', points: [{ t: 100, v: 1.25 }] },
      ]);
    });
  });

  describe(matrixOf.name, () => {
    it("should take the series of Prometheus's matrix answer", () => {
      const result = [{ metric: { job: 'redis' }, values: [[1, '6']] }];
      expect(matrixOf({ status: 'success', data: { resultType: 'matrix', result } })).toEqual(result);
    });

    it('should refuse anything else', () => {
      expect(() => matrixOf({ status: 'success', data: { resultType: 'vector', result: [] } })).toThrow(/matrix/);
      expect(() => matrixOf(null)).toThrow(/matrix/);
      expect(() => matrixOf({ data: { resultType: 'matrix', result: [{ metric: {} }] } })).toThrow(/values/);
    });
  });

  describe('METRICS_PANELS', () => {
    it('should have one query per panel over the given rate window, never taken from the caller', () => {
      expect(METRICS_PANELS.map((p) => p.name)).toEqual([
        'requestRate',
        'errorRatio',
        'writeVisibilityP99',
        'shardBacklog',
        'replicationLag',
        'instancesUp',
      ]);
      expect(panel('requestRate').query('60s')).toBe(
        'sum by (keyflow_instance) (rate(keyflow_http_request_duration_seconds_count{job="keyflow-api"}[60s]))',
      );
      expect(panel('errorRatio').query('60s')).toContain(
        'keyflow_http_request_duration_seconds_count{job="keyflow-api",status=~"5.."}[60s]',
      );
      expect(panel('shardBacklog').query('60s')).toContain('keyflow_queue_depth{queue=~"kv\\\\.shard\\\\..*"}');
    });
  });
});
