import { describe, expect, it } from 'vitest';
import { defineScenarios, SCENARIO_NAMES } from '../../../scenarios/scenarios';
import { LatencyHistogram } from './histogram.util';
import {
  evaluateThresholds,
  parseMetricSelector,
  parseThresholdExpression,
  ThresholdSyntaxError,
  type MetricSelector,
  type MetricSource,
  type MetricValue,
} from './threshold.util';

function trend(...valuesMs: number[]): MetricValue {
  const histogram = new LatencyHistogram();
  for (const v of valuesMs) histogram.recordMs(v);
  return { type: 'trend', histogram };
}

function sourceOf(metrics: Record<string, MetricValue>): MetricSource {
  return { lookup: (s: MetricSelector) => metrics[s.source] ?? `unknown metric '${s.source}'` };
}

describe('threshold.util', () => {
  describe(parseMetricSelector.name, () => {
    it('should split a metric name from its tag filter', () => {
      expect(parseMetricSelector('http_req_duration{op:get, traffic:load}')).toEqual({
        source: 'http_req_duration{op:get, traffic:load}',
        name: 'http_req_duration',
        tags: { op: 'get', traffic: 'load' },
      });
      expect(parseMetricSelector('http_req_failed').tags).toEqual({});
    });

    it('should reject a tag filter without a value', () => {
      expect(() => parseMetricSelector('http_reqs{op}')).toThrow(ThresholdSyntaxError);
    });
  });

  describe(parseThresholdExpression.name, () => {
    it('should parse percentiles, aggregates and every operator', () => {
      expect(parseThresholdExpression('p(99.9)<=50')).toMatchObject({
        stat: { kind: 'percentile', percentile: 99.9 },
        operator: '<=',
        value: 50,
      });
      expect(parseThresholdExpression('rate==0')).toMatchObject({ stat: { kind: 'rate' }, operator: '==', value: 0 });
      expect(parseThresholdExpression(' count >= 60000 ')).toMatchObject({ stat: { kind: 'count' }, operator: '>=' });
      expect(parseThresholdExpression('avg!=1.5')).toMatchObject({ operator: '!=', value: 1.5 });
    });

    it('should reject what k6 would reject', () => {
      expect(() => parseThresholdExpression('p99<10')).toThrow(ThresholdSyntaxError);
      expect(() => parseThresholdExpression('p(95)=>10')).toThrow(ThresholdSyntaxError);
      expect(() => parseThresholdExpression('p(101)<10')).toThrow(ThresholdSyntaxError);
    });
  });

  describe(evaluateThresholds.name, () => {
    it('should mark each expression pass or fail with the measured value', () => {
      const results = evaluateThresholds(
        {
          'http_req_duration{op:get}': ['p(50)<10', 'max<10'],
          http_req_failed: ['rate==0'],
          http_reqs: ['rate>=100', 'count>=1000'],
        },
        sourceOf({
          'http_req_duration{op:get}': trend(1, 2, 3, 40),
          http_req_failed: { type: 'rate', hits: 1, total: 1000 },
          http_reqs: { type: 'counter', count: 1000, durationS: 5 },
        }),
      );
      expect(results.map((r) => [r.metric, r.expression, r.status])).toEqual([
        ['http_req_duration{op:get}', 'p(50)<10', 'pass'],
        ['http_req_duration{op:get}', 'max<10', 'fail'],
        ['http_req_failed', 'rate==0', 'fail'],
        ['http_reqs', 'rate>=100', 'pass'],
        ['http_reqs', 'count>=1000', 'pass'],
      ]);
      expect(results[2]?.actual).toBe(0.001);
      expect(results[3]?.actual).toBe(200);
    });

    it('should report no data and unknown metrics instead of passing them silently', () => {
      const results = evaluateThresholds(
        { write_visibility: ['p(99)<250'], mystery: ['count==0'], http_reqs: ['p(99)<1'] },
        sourceOf({ write_visibility: trend(), http_reqs: { type: 'counter', count: 3, durationS: 1 } }),
      );
      expect(results.map((r) => r.status)).toEqual(['no-data', 'unsupported', 'unsupported']);
    });
  });

  describe('scenario thresholds', () => {
    it('should all be valid threshold syntax at every scale', () => {
      for (const scale of [1, 0.1, 0.01]) {
        const scenarios = defineScenarios(scale);
        for (const name of SCENARIO_NAMES) {
          for (const [metric, expressions] of Object.entries(scenarios[name].thresholds)) {
            expect(() => parseMetricSelector(metric)).not.toThrow();
            for (const e of expressions) expect(() => parseThresholdExpression(e)).not.toThrow();
          }
        }
      }
    });
  });
});
