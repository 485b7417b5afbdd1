import { describeCpu } from '../metrics/cpu-sampler.service';
import type { TargetCell, TargetProfile, TargetRow, TargetRun, TargetTool } from './targets.dto';

/** Issue 14's targets, as numbers. */
export const TARGETS = {
  storePut: { minRps: 1500, maxP99Ms: 100, maxErrors: 0, maxDrainMs: 10_000 },
  sustained: { rate: 1000, maxVisibilityP99Ms: 250, maxDroppedRatio: 0.01, maxDrainMs: 1000 },
  cacheHitRatio: { min: 0.7 },
  reference: { minRps: 1500, maxPutP99Ms: 100 },
  apiRss: { maxMiB: 200 },
  cpuPerWrite: { maxMs: 1.2 },
} as const;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : int(n));
const seconds = (milliseconds: number): string =>
  milliseconds < 1000 ? `${Math.round(milliseconds)} ms` : `${(milliseconds / 1000).toFixed(1)} s`;

function find(runs: readonly TargetRun[], tool: TargetTool, profile: TargetProfile): TargetRun | undefined {
  return runs.find((r) => r.tool === tool && r.profile === profile);
}

function storePutCell(run: TargetRun | undefined): TargetCell | null {
  if (run === undefined) return null;
  const t = TARGETS.storePut;
  const drained = run.drain?.drainedAfterMs ?? null;
  const drainText = drained === null ? 'queues not drained' : `drained after ${seconds(drained)}`;
  return {
    text: `${int(run.rps)} req/s, p99 ${ms(run.p99Ms)} ms, ${int(run.errors)} errors, ${drainText}`,
    passed:
      run.rps >= t.minRps &&
      run.p99Ms <= t.maxP99Ms &&
      run.errors <= t.maxErrors &&
      drained !== null &&
      drained <= t.maxDrainMs,
  };
}

function sustainedCell(run: TargetRun | undefined): TargetCell | null {
  if (run === undefined) return null;
  const t = TARGETS.sustained;
  const offered = run.requests + (run.dropped ?? 0);
  const droppedRatio = offered > 0 ? (run.dropped ?? 0) / offered : 0;
  const drained = run.drain?.drainedAfterMs ?? null;
  const visibility = run.visibilityP99Ms;
  return {
    text:
      `${int(run.acceptedWrites ?? 0)} accepted (${int(run.rps)}/s), ${int(run.dropped ?? 0)} dropped, ` +
      `visibility p99 ${visibility === null ? '—' : `${ms(visibility)} ms`}` +
      `${run.visibilityTimeouts ? ` (${run.visibilityTimeouts} timed out)` : ''}, ` +
      (drained === null ? 'queues not drained' : `drained after ${seconds(drained)}`),
    passed:
      visibility !== null &&
      visibility <= t.maxVisibilityP99Ms &&
      (run.visibilityTimeouts ?? 0) === 0 &&
      droppedRatio < t.maxDroppedRatio &&
      drained !== null &&
      drained <= t.maxDrainMs,
  };
}

function ratioCell(get: TargetRun | undefined, health: TargetRun | undefined): TargetCell | null {
  if (get === undefined || health === undefined) return null;
  if (health.rps <= 0) return { text: `no ${'`GET /health/live`'} throughput to compare with`, passed: null };
  const ratio = get.rps / health.rps;
  const errors = get.errors + health.errors;
  return {
    text: `${ratio.toFixed(2)}× (${int(get.rps)} ÷ ${int(health.rps)} req/s, p99 ${ms(get.p99Ms)} ms)${errors > 0 ? `, ${int(errors)} errors` : ''}`,
    passed: ratio >= TARGETS.cacheHitRatio.min && errors === 0,
  };
}

function referenceCell(run: TargetRun | undefined): TargetCell | null {
  if (run === undefined) return null;
  const t = TARGETS.reference;
  const putP99 = run.putP99Ms;
  return {
    text: `${int(run.rps)} req/s, PUT p99 ${putP99 === null ? '—' : `${ms(putP99)} ms`}, ${int(run.errors)} errors`,
    passed: run.rps >= t.minRps && putP99 !== null && putP99 <= t.maxPutP99Ms,
  };
}

function rssCell(runs: readonly TargetRun[]): TargetCell | null {
  const withRss = runs.filter((r) => r.apiMaxRssMiB !== null);
  if (withRss.length === 0) return runs.length === 0 ? null : { text: 'not sampled (no API pids)', passed: null };
  const max = Math.max(...withRss.map((r) => r.apiMaxRssMiB ?? 0));
  const where = withRss.find((r) => r.apiMaxRssMiB === max)?.profile ?? '';
  return {
    text: `${max.toFixed(0)} MiB (max of one API process; during ${where})`,
    passed: max <= TARGETS.apiRss.maxMiB,
  };
}

function cpuPerWriteCell(runs: readonly TargetRun[]): TargetCell | null {
  const writes = runs.filter((r) => r.cpuPerWriteMs !== null);
  if (writes.length === 0) return null;
  return {
    text: writes.map((r) => `${(r.cpuPerWriteMs ?? 0).toFixed(2)} ms (${r.profile})`).join(', '),
    passed: writes.every((r) => (r.cpuPerWriteMs ?? Infinity) <= TARGETS.cpuPerWrite.maxMs),
  };
}

/** Issue 14's table, measured: one row per target, a cell per tool that measured it (null: that tool did not). */
export function buildTargetRows(runs: readonly TargetRun[]): TargetRow[] {
  const tool = (t: TargetTool): TargetRun[] => runs.filter((r) => r.tool === t);
  return [
    {
      measure: '`PUT /store`, random keys, 64 connections',
      before: '720 req/s, p99 254 ms',
      target: '≥ 1,500 req/s, p99 ≤ 100 ms, 0 errors, queues drained within 10 s after the load',
      node: storePutCell(find(runs, 'node', 'store-put')),
      wrk: storePutCell(find(runs, 'wrk', 'store-put')),
    },
    {
      measure: 'sustained writes at 1,000/s for 60 s',
      before: '—',
      target: 'workers keep up (< 1 % dropped, drained ≤ 1 s), write visibility (202 → readable) p99 ≤ 250 ms',
      node: sustainedCell(find(runs, 'node', 'sustained-writes-1000')),
      wrk: null,
    },
    {
      measure: 'cache-hit GET ÷ `GET /health/live`, same gateway, same run',
      before: '0.52×',
      target: '≥ 0.7×',
      node: ratioCell(find(runs, 'node', 'cache-hit-get'), find(runs, 'node', 'health-live')),
      wrk: ratioCell(find(runs, 'wrk', 'cache-hit-get'), find(runs, 'wrk', 'health-live')),
    },
    {
      measure: 'reference profile (300 VUs, 50/50 `/store`)',
      before: '580 req/s, PUT p99 3.4 s',
      target: '≥ 1,500 req/s, PUT p99 ≤ 100 ms',
      node: referenceCell(find(runs, 'node', 'reference')),
      wrk: null,
    },
    {
      measure: 'API process RSS under load',
      before: '290–345 MiB',
      target: '≤ 200 MiB',
      node: rssCell(tool('node')),
      wrk: rssCell(tool('wrk')),
    },
    {
      measure: 'CPU per accepted write, all tiers',
      before: '~3.7 ms',
      target: '≤ 1.2 ms',
      node: cpuPerWriteCell(tool('node')),
      wrk: cpuPerWriteCell(tool('wrk')),
    },
  ];
}

function cellText(cell: TargetCell | null): string {
  if (cell === null) return '—';
  const mark = cell.passed === null ? '' : cell.passed ? ' ✅' : ' ❌';
  return `${cell.text}${mark}`;
}

/** pass when every measured cell passes, FAIL when one fails, `no data` when nothing was measured. */
export function rowVerdict(row: TargetRow): 'pass' | 'FAIL' | 'no data' {
  const verdicts = [row.node, row.wrk].filter((c): c is TargetCell => c !== null && c.passed !== null);
  if (verdicts.length === 0) return 'no data';
  return verdicts.every((c) => c.passed) ? 'pass' : 'FAIL';
}

const HEADER = ['measure', 'before (issue)', 'target', 'measured: Node runner', 'measured: wrk', 'met?'] as const;

function rowCells(row: TargetRow): string[] {
  return [row.measure, row.before, row.target, cellText(row.node), cellText(row.wrk), rowVerdict(row)];
}

/** The table as Markdown. */
export function formatTargetsMarkdown(rows: readonly TargetRow[]): string {
  const escape = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${rowCells(r).map(escape).join(' | ')} |`),
  ].join('\n');
}

/** The table for the terminal: one block per measure, so long cells stay readable at 120 columns. */
export function formatTargetsConsole(rows: readonly TargetRow[]): string {
  const lines: string[] = [];
  for (const row of rows) {
    lines.push(`${rowVerdict(row).padEnd(7)} ${row.measure.replace(/`/g, '')}`);
    lines.push(`        before ${row.before}; target ${row.target}`);
    if (row.node !== null) lines.push(`        Node runner: ${cellText(row.node)}`);
    if (row.wrk !== null) lines.push(`        wrk:         ${cellText(row.wrk)}`);
  }
  return lines.join('\n');
}

/** One line per run: CPU per tier, and per accepted write for write runs. */
export function describeTargetCpu(run: TargetRun): string {
  const label = `[${run.tool} ${run.profile}]`;
  if (run.cpu === null) return `${label} CPU not sampled (no stack processes in stack.json)`;
  const perWrite =
    run.cpuPerWriteMs === null
      ? ''
      : `; CPU per accepted write ${run.cpuPerWriteMs.toFixed(2)} ms (${tierCpuSeconds(run).toFixed(1)} s of CPU ÷ ${int(run.acceptedWrites ?? 0)} writes)`;
  // For wrk runs the load generator's CPU is wrk's (CpuReport's own figure is the runner's, which only waits).
  const cpu = describeCpu(run.cpu).replace(
    'load generator',
    run.tool === 'wrk' ? 'load generator (wrk)' : 'load generator',
  );
  return `${label} ${cpu}${perWrite}`;
}

/** CPU seconds of every stack tier together over a run's sampling window. */
export function tierCpuSeconds(run: Pick<TargetRun, 'cpu'>): number {
  if (run.cpu === null) return 0;
  return run.cpu.tiers.reduce((sum, t) => sum + (t.percentOfCore / 100) * (run.cpu?.durationS ?? 0), 0);
}
