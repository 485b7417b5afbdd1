import type { BaselineResult } from '../baseline/baseline.service';
import type { ScenarioResult } from '../load/scenario-runner.service';
import type { TargetsReport } from '../targets/targets.dto';

export interface HostInfo {
  hostname: string;
  cpus: number;
  cpuModel: string;
  totalMemoryMiB: number;
  node: string;
  platform: string;
  loadAverage: number[];
}

export interface ScenarioFailure {
  scenario: string;
  error: string;
}

/** One line of the summary table; every figure with its ratio to the baseline (null when there is none). */
export interface SummaryRow {
  scenario: string;
  op: string;
  rps: number;
  rpsRatio: number | null;
  p50Ms: number;
  p50Ratio: number | null;
  p95Ms: number;
  p95Ratio: number | null;
  p99Ms: number;
  p99Ratio: number | null;
  maxMs: number;
  maxRatio: number | null;
  errors: number;
  errorRate: number;
  visibilityP99Ms: number | null;
  visibilityRatio: number | null;
  apiMaxRssMiB: number | null;
  rssRatio: number | null;
  /** `passed/total` for the scenario's thresholds, on the scenario's `all` row only. */
  thresholds: { passed: number; total: number } | null;
}

export interface BenchReport {
  tool: 'keyflow-bench';
  formatVersion: 1;
  startedAt: string;
  finishedAt: string;
  command: string;
  target: string;
  scale: number;
  strict: boolean;
  host: HostInfo;
  baseline: BaselineResult | null;
  baselineError: string | null;
  scenarios: ScenarioResult[];
  failures: ScenarioFailure[];
  rows: SummaryRow[];
  /** Issue 14's target table and the runs behind it (Node runner and wrk); null when not measured. */
  targets?: TargetsReport | null;
  /** Every scenario ran and every threshold passed. */
  passed: boolean;
}
