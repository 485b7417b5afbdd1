import type { ScenarioMetrics } from './scenario-metrics.service';

/**
 * Prints a progress line every few seconds while a scenario runs: elapsed time, requests and the rate since the
 * last line, p99 so far per operation, errors, dropped iterations and visibility samples.
 */
export class ProgressReporter {
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private lastAt = 0;
  private lastRequests = 0;

  constructor(
    private readonly label: string,
    private readonly plannedMs: number,
    private readonly metrics: ScenarioMetrics,
    private readonly log: (line: string) => void,
  ) {}

  start(intervalMs: number): void {
    this.startedAt = performance.now();
    this.lastAt = this.startedAt;
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => this.log(this.line()), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  line(now = performance.now()): string {
    const m = this.metrics;
    const requests = m.requests;
    const windowS = (now - this.lastAt) / 1000;
    const rate = windowS > 0 ? (requests - this.lastRequests) / windowS : 0;
    this.lastAt = now;
    this.lastRequests = requests;
    const p99 = (['get', 'put', 'delete'] as const)
      .filter((op) => m.ops[op].requests > 0)
      .map((op) => `${op} p99 ${m.ops[op].latency.percentileMs(99).toFixed(1)} ms`)
      .join(', ');
    const parts = [
      `${((now - this.startedAt) / 1000).toFixed(0)}/${(this.plannedMs / 1000).toFixed(0)} s`,
      `${requests} reqs (${rate.toFixed(0)}/s)`,
      p99,
      `errors ${m.failures}`,
      m.dropped > 0 ? `dropped ${m.dropped}` : '',
      m.visibility.count > 0
        ? `visibility n=${m.visibility.count} p99 ${m.visibility.percentileMs(99).toFixed(0)} ms`
        : '',
    ];
    return `[${this.label}] ${parts.filter((p) => p !== '').join('  ')}`;
  }
}
