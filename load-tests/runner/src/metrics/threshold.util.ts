import type { Thresholds } from '../../../scenarios/scenarios';
import type { LatencyHistogram } from './histogram.util';

/**
 * Evaluates k6 threshold expressions against what the Node runner measured, so one definition gates both runners.
 * Supported, as in k6: Trend `avg|min|med|max|p(N)`, Rate `rate`, Counter `count|rate` (rate = per second of the
 * load phase), with `==`, `===`, `!=`, `<`, `<=`, `>`, `>=`.
 */

export type ThresholdOperator = '<' | '<=' | '>' | '>=' | '==' | '===' | '!=';

export type ThresholdStat =
  { kind: 'avg' | 'min' | 'med' | 'max' | 'count' | 'rate' | 'value' } | { kind: 'percentile'; percentile: number };

export interface ThresholdExpression {
  source: string;
  stat: ThresholdStat;
  operator: ThresholdOperator;
  value: number;
}

export interface MetricSelector {
  source: string;
  name: string;
  tags: Record<string, string>;
}

/** A measured metric in one of k6's metric types. */
export type MetricValue =
  | { type: 'trend'; histogram: LatencyHistogram }
  | { type: 'rate'; hits: number; total: number }
  | { type: 'counter'; count: number; durationS: number };

/** Resolves a selector to what was measured; a string says why it can't be (unknown metric or tag). */
export interface MetricSource {
  lookup(selector: MetricSelector): MetricValue | string;
}

export type ThresholdStatus = 'pass' | 'fail' | 'no-data' | 'unsupported';

export interface ThresholdResult {
  metric: string;
  expression: string;
  status: ThresholdStatus;
  /** The measured value the expression was compared with (ms for trends, 0–1 for rates). */
  actual: number | null;
  note?: string;
}

export class ThresholdSyntaxError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid threshold '${input}': ${reason}`);
    this.name = ThresholdSyntaxError.name;
  }
}

/** Parses `http_req_duration{op:get,traffic:load}` into a metric name and tag filter. */
export function parseMetricSelector(source: string): MetricSelector {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:\{([^}]*)\})?$/.exec(source.trim());
  if (!match?.[1]) throw new ThresholdSyntaxError(source, 'expected metric_name or metric_name{tag:value,…}');
  const tags: Record<string, string> = {};
  for (const pair of (match[2] ?? '').split(',').filter((p) => p.trim() !== '')) {
    const colon = pair.indexOf(':');
    if (colon <= 0) throw new ThresholdSyntaxError(source, `tag filter '${pair}' is not tag:value`);
    tags[pair.slice(0, colon).trim()] = pair.slice(colon + 1).trim();
  }
  return { source, name: match[1], tags };
}

/** Parses `p(99)<=50`, `rate==0`, `count>=60000`, `avg<10`. */
export function parseThresholdExpression(source: string): ThresholdExpression {
  const match =
    /^\s*(avg|min|med|max|count|rate|value|p\(\s*(\d+(?:\.\d+)?)\s*\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/.exec(
      source,
    );
  if (!match?.[1] || !match[3] || !match[4])
    throw new ThresholdSyntaxError(source, 'expected e.g. p(95)<200 or rate==0');
  const statName = match[1];
  let stat: ThresholdStat;
  if (statName.startsWith('p(')) {
    const percentile = Number(match[2]);
    if (!(percentile >= 0 && percentile <= 100)) throw new ThresholdSyntaxError(source, 'percentile must be 0–100');
    stat = { kind: 'percentile', percentile };
  } else {
    stat = { kind: statName as 'avg' | 'min' | 'med' | 'max' | 'count' | 'rate' | 'value' };
  }
  return { source, stat, operator: match[3] as ThresholdOperator, value: Number(match[4]) };
}

export function compare(actual: number, operator: ThresholdOperator, expected: number): boolean {
  switch (operator) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '==':
    case '===':
      return actual === expected;
    case '!=':
      return actual !== expected;
  }
}

/** The value of `stat` for `metric`, or why there is none. */
export function statOf(
  metric: MetricValue,
  stat: ThresholdStat,
): number | { status: 'no-data' | 'unsupported'; note: string } {
  switch (metric.type) {
    case 'trend': {
      if (metric.histogram.count === 0) return { status: 'no-data', note: 'no samples' };
      switch (stat.kind) {
        case 'avg':
          return metric.histogram.meanMs;
        case 'min':
          return metric.histogram.minMs;
        case 'max':
          return metric.histogram.maxMs;
        case 'med':
          return metric.histogram.percentileMs(50);
        case 'percentile':
          return metric.histogram.percentileMs(stat.percentile);
        case 'count':
        case 'rate':
        case 'value':
          return { status: 'unsupported', note: `a Trend has no '${stat.kind}'` };
      }
      break;
    }
    case 'rate':
      if (stat.kind !== 'rate') return { status: 'unsupported', note: `a Rate only has 'rate'` };
      if (metric.total === 0) return { status: 'no-data', note: 'no samples' };
      return metric.hits / metric.total;
    case 'counter':
      if (stat.kind === 'count') return metric.count;
      if (stat.kind === 'rate') return metric.durationS > 0 ? metric.count / metric.durationS : 0;
      return { status: 'unsupported', note: `a Counter only has 'count' and 'rate'` };
  }
}

/** Evaluates every expression of every metric in `thresholds`, in definition order. */
export function evaluateThresholds(thresholds: Thresholds, source: MetricSource): ThresholdResult[] {
  const results: ThresholdResult[] = [];
  for (const [metric, expressions] of Object.entries(thresholds)) {
    const measured = source.lookup(parseMetricSelector(metric));
    for (const expression of expressions) {
      const parsed = parseThresholdExpression(expression);
      if (typeof measured === 'string') {
        results.push({ metric, expression, status: 'unsupported', actual: null, note: measured });
        continue;
      }
      const actual = statOf(measured, parsed.stat);
      if (typeof actual !== 'number') {
        results.push({ metric, expression, status: actual.status, actual: null, note: actual.note });
        continue;
      }
      results.push({
        metric,
        expression,
        status: compare(actual, parsed.operator, parsed.value) ? 'pass' : 'fail',
        actual,
      });
    }
  }
  return results;
}

/** A scenario passes only when every threshold was evaluated and passed. */
export function allPassed(results: ThresholdResult[]): boolean {
  return results.every((r) => r.status === 'pass');
}
