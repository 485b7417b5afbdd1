import { OPERATIONS, type Operation } from '../../../scenarios/scenarios';
import { LatencyHistogram, type LatencySummary } from '../metrics/histogram.util';
import type { MetricSelector, MetricSource, MetricValue } from '../metrics/threshold.util';

export class OperationStats {
  readonly latency = new LatencyHistogram();
  requests = 0;
  failures = 0;
  readonly errors = new Map<string, number>();

  record(durationMs: number, failure: string | undefined): void {
    this.requests++;
    this.latency.recordMs(durationMs);
    if (failure !== undefined) {
      this.failures++;
      this.errors.set(failure, (this.errors.get(failure) ?? 0) + 1);
    }
  }
}

export interface OperationResult {
  op: Operation | 'all';
  requests: number;
  /** Requests per second over the load phase. */
  rps: number;
  latency: LatencySummary;
  failures: number;
  errorRate: number;
  /** Failure reason → count. */
  errors: Record<string, number>;
}

/**
 * Everything measured during one scenario's load phase, in the shape k6 would report it, and the `MetricSource`
 * its thresholds are evaluated against. Setup, probe and drain traffic are recorded separately, never here.
 */
export class ScenarioMetrics implements MetricSource {
  readonly ops: Record<Operation, OperationStats> = {
    get: new OperationStats(),
    put: new OperationStats(),
    delete: new OperationStats(),
  };
  readonly visibility = new LatencyHistogram();
  visibilityTimeouts = 0;
  /** Sampled writes not probed because too many probes were already running. */
  visibilitySkipped = 0;
  readonly backlogDrain = new LatencyHistogram();
  readonly budgetElapsed = new LatencyHistogram();
  dropped = 0;
  iterations = 0;
  /** Iterations that threw inside the runner (a bug in the runner, not a failed request). */
  runnerErrors = 0;
  /** Length of the load phase in seconds; rates divide by it. Set when the load phase ends. */
  loadDurationS = 0;

  record(op: Operation, durationMs: number, failure: string | undefined): void {
    this.ops[op].record(durationMs, failure);
  }

  get requests(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.ops[op].requests, 0);
  }

  get failures(): number {
    return OPERATIONS.reduce((sum, op) => sum + this.ops[op].failures, 0);
  }

  operationResult(op: Operation | 'all'): OperationResult {
    const stats = op === 'all' ? OPERATIONS.map((o) => this.ops[o]) : [this.ops[op]];
    const requests = stats.reduce((sum, s) => sum + s.requests, 0);
    const failures = stats.reduce((sum, s) => sum + s.failures, 0);
    const errors: Record<string, number> = {};
    for (const s of stats) for (const [reason, n] of s.errors) errors[reason] = (errors[reason] ?? 0) + n;
    return {
      op,
      requests,
      rps: this.loadDurationS > 0 ? requests / this.loadDurationS : 0,
      latency: LatencyHistogram.merge(stats.map((s) => s.latency)).summary(),
      failures,
      errorRate: requests > 0 ? failures / requests : 0,
      errors,
    };
  }

  lookup(selector: MetricSelector): MetricValue | string {
    const { name, tags } = selector;
    const httpMetric = name === 'http_req_duration' || name === 'http_req_failed' || name === 'http_reqs';
    for (const [tag, value] of Object.entries(tags)) {
      const known =
        httpMetric &&
        ((tag === 'op' && (OPERATIONS as readonly string[]).includes(value)) ||
          (tag === 'traffic' && value === 'load'));
      if (!known) return `the Node runner records no '${name}' samples tagged ${tag}:${value}`;
    }
    const op = tags.op as Operation | undefined;
    const stats = op === undefined ? OPERATIONS.map((o) => this.ops[o]) : [this.ops[op]];
    const counter = (count: number): MetricValue => ({ type: 'counter', count, durationS: this.loadDurationS });
    switch (name) {
      case 'http_req_duration':
        return { type: 'trend', histogram: LatencyHistogram.merge(stats.map((s) => s.latency)) };
      case 'http_req_failed':
        return {
          type: 'rate',
          hits: stats.reduce((sum, s) => sum + s.failures, 0),
          total: stats.reduce((sum, s) => sum + s.requests, 0),
        };
      case 'http_reqs':
        return counter(stats.reduce((sum, s) => sum + s.requests, 0));
      case 'iterations':
        return counter(this.iterations);
      case 'dropped_iterations':
        return counter(this.dropped);
      case 'write_visibility':
        return { type: 'trend', histogram: this.visibility };
      case 'write_visibility_timeouts':
        return counter(this.visibilityTimeouts);
      case 'write_backlog_drain':
        return { type: 'trend', histogram: this.backlogDrain };
      case 'request_budget_elapsed':
        return { type: 'trend', histogram: this.budgetElapsed };
      default:
        return `the Node runner does not measure '${name}'`;
    }
  }
}
