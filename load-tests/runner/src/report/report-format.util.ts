import type { BaselineResult } from '../baseline/baseline.service';
import type { OperationResult } from '../load/scenario-metrics.service';
import type { ScenarioResult } from '../load/scenario-runner.service';
import type { ThresholdResult } from '../metrics/threshold.util';
import { formatTargetsSection } from '../targets/targets-report.util';
import type { BenchReport, SummaryRow } from './report.dto';

const KIB_PER_MIB = 1024;

/** `value / base`, or null when either is missing or the base is 0. */
export function ratio(value: number | null | undefined, base: number | null | undefined): number | null {
  if (value === null || value === undefined || base === null || base === undefined || base === 0) return null;
  return value / base;
}

/** The baseline figure an operation is compared with: reads with the baseline GET, writes with its PUT. */
export function baselineFor(baseline: BaselineResult | null, op: string): OperationResult | null {
  if (baseline === null) return null;
  return op === 'put' || op === 'delete' ? baseline.put : baseline.get;
}

function row(
  scenario: string,
  result: OperationResult,
  base: OperationResult | null,
  extra: Pick<SummaryRow, 'visibilityP99Ms' | 'visibilityRatio' | 'apiMaxRssMiB' | 'rssRatio' | 'thresholds'>,
): SummaryRow {
  return {
    scenario,
    op: result.op,
    rps: result.rps,
    rpsRatio: ratio(result.rps, base?.rps),
    p50Ms: result.latency.p50Ms,
    p50Ratio: ratio(result.latency.p50Ms, base?.latency.p50Ms),
    p95Ms: result.latency.p95Ms,
    p95Ratio: ratio(result.latency.p95Ms, base?.latency.p95Ms),
    p99Ms: result.latency.p99Ms,
    p99Ratio: ratio(result.latency.p99Ms, base?.latency.p99Ms),
    maxMs: result.latency.maxMs,
    maxRatio: ratio(result.latency.maxMs, base?.latency.maxMs),
    errors: result.failures,
    errorRate: result.errorRate,
    ...extra,
  };
}

/** The summary table: the baseline's own rows (×1), then one row per operation of each scenario plus `all`. */
export function summaryRows(baseline: BaselineResult | null, scenarios: ScenarioResult[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const baselineRssMiB = baseline?.rss.maxKiB != null ? baseline.rss.maxKiB / KIB_PER_MIB : null;
  if (baseline !== null) {
    for (const result of [baseline.get, baseline.put]) {
      rows.push(
        row('baseline', result, result, {
          visibilityP99Ms: null,
          visibilityRatio: null,
          apiMaxRssMiB: baselineRssMiB,
          rssRatio: baselineRssMiB === null ? null : 1,
          thresholds: null,
        }),
      );
    }
  }
  for (const scenario of scenarios) {
    const visibilityP99 = scenario.visibility.latency?.p99Ms ?? null;
    const rssMiB = scenario.rss?.maxKiB != null ? scenario.rss.maxKiB / KIB_PER_MIB : null;
    for (const result of scenario.operations) {
      const isAll = result.op === 'all';
      rows.push(
        row(scenario.name, result, baselineFor(baseline, result.op), {
          visibilityP99Ms: isAll ? visibilityP99 : null,
          visibilityRatio: isAll ? ratio(visibilityP99, baseline?.get.latency.p99Ms) : null,
          apiMaxRssMiB: isAll ? rssMiB : null,
          rssRatio: isAll ? ratio(rssMiB, baselineRssMiB) : null,
          thresholds: isAll
            ? {
                passed: scenario.thresholds.filter((t) => t.status === 'pass').length,
                total: scenario.thresholds.length,
              }
            : null,
        }),
      );
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Number formatting

export function formatRate(rps: number): string {
  return Math.round(rps).toLocaleString('en-US');
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 10) return ms.toFixed(2);
  if (ms < 1000) return ms.toFixed(1);
  return Math.round(ms).toLocaleString('en-US');
}

export function formatRatio(r: number | null): string {
  if (r === null) return '';
  return `×${r < 10 ? r.toFixed(2) : r.toFixed(1)}`;
}

/** `value ×ratio`, or just the value when there is no baseline to compare with. */
function withRatio(value: string, r: number | null): string {
  const suffix = formatRatio(r);
  return suffix === '' ? value : `${value} ${suffix}`;
}

function formatErrors(row: SummaryRow): string {
  return row.errors === 0 ? '0' : `${row.errors} (${(row.errorRate * 100).toFixed(2)}%)`;
}

function formatThresholds(t: SummaryRow['thresholds']): string {
  if (t === null) return '';
  if (t.total === 0) return 'none';
  return `${t.passed === t.total ? 'pass' : 'FAIL'} ${t.passed}/${t.total}`;
}

const COLUMNS = [
  'scenario',
  'op',
  'req/s',
  '×baseline',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'max ms',
  'errors',
  'visibility p99 ms',
  'API max RSS MiB',
  'thresholds',
] as const;

function cells(row: SummaryRow): string[] {
  return [
    row.scenario,
    row.op,
    formatRate(row.rps),
    formatRatio(row.rpsRatio),
    withRatio(formatMs(row.p50Ms), row.p50Ratio),
    withRatio(formatMs(row.p95Ms), row.p95Ratio),
    withRatio(formatMs(row.p99Ms), row.p99Ratio),
    withRatio(formatMs(row.maxMs), row.maxRatio),
    formatErrors(row),
    row.visibilityP99Ms === null ? '' : withRatio(formatMs(row.visibilityP99Ms), row.visibilityRatio),
    row.apiMaxRssMiB === null ? '' : withRatio(row.apiMaxRssMiB.toFixed(0), row.rssRatio),
    formatThresholds(row.thresholds),
  ];
}

/** The summary as a fixed-width table for the terminal. */
export function formatConsoleTable(rows: SummaryRow[]): string {
  const table = [COLUMNS as readonly string[], ...rows.map(cells)];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const separator = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(table[0] ?? []), separator, ...table.slice(1).map(line)].join('\n');
}

function markdownTable(header: readonly string[], body: string[][]): string {
  const escape = (c: string): string => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(escape).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...body.map((r) => `| ${r.map(escape).join(' | ')} |`),
  ].join('\n');
}

function thresholdLine(t: ThresholdResult): string[] {
  const status = { pass: '✅ pass', fail: '❌ fail', 'no-data': '⚠️ no data', unsupported: '⚠️ not evaluated' }[
    t.status
  ];
  const actual = t.actual === null ? '—' : Number.isInteger(t.actual) ? String(t.actual) : t.actual.toFixed(3);
  return [`\`${t.metric}\``, `\`${t.expression}\``, actual, status, t.note ?? ''];
}

function scenarioSection(s: ScenarioResult): string {
  const out: string[] = [`### ${s.name}${s.status === 'aborted' ? ' (aborted)' : ''}`, '', s.description, ''];
  out.push(`Targets: ${s.targets.join('; ')}.`, '');
  out.push(
    `Load: ${s.load.durationS.toFixed(1)} s, ${s.load.iterations.toLocaleString('en-US')} iterations, ` +
      `${s.load.dropped} dropped, peak ${s.load.peakVUs} VUs, ${s.load.interrupted} interrupted, ` +
      `max scheduler lag ${formatMs(s.load.maxSchedulerLagMs)} ms. Setup: ${s.setup.keys} keys in ` +
      `${(s.setup.durationMs / 1000).toFixed(1)} s. Machine load average ${s.hostLoad.start.toFixed(2)} → ` +
      `${s.hostLoad.end.toFixed(2)}.`,
    '',
  );
  out.push(
    markdownTable(
      ['op', 'requests', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'errors'],
      s.operations.map((o) => [
        o.op,
        o.requests.toLocaleString('en-US'),
        formatRate(o.rps),
        formatMs(o.latency.p50Ms),
        formatMs(o.latency.p95Ms),
        formatMs(o.latency.p99Ms),
        formatMs(o.latency.maxMs),
        Object.keys(o.errors).length === 0
          ? '0'
          : Object.entries(o.errors)
              .map(([reason, n]) => `${reason}: ${n}`)
              .join(', '),
      ]),
    ),
    '',
  );
  if (s.visibility.sampleRate > 0) {
    const v = s.visibility.latency;
    out.push(
      `Write visibility (${(s.visibility.sampleRate * 100).toFixed(1)}% of PUTs): ${s.visibility.samples} samples, ` +
        (v === null
          ? 'no sample became visible'
          : `p50 ${formatMs(v.p50Ms)} ms, p95 ${formatMs(v.p95Ms)} ms, p99 ${formatMs(v.p99Ms)} ms, max ${formatMs(v.maxMs)} ms`) +
        `; ${s.visibility.timeouts} timed out, ${s.visibility.skipped} skipped (probe limit).`,
      '',
    );
  }
  if (s.backlogDrain !== null) {
    out.push(
      `Backlog drain: ${s.backlogDrain.markers} markers after the load, slowest visible after ` +
        `${formatMs(s.backlogDrain.latency.maxMs)} ms, ${s.backlogDrain.pending} never visible.`,
      '',
    );
  }
  if (s.budget !== null) {
    out.push(
      `Request budget: ${s.budget.requests.toLocaleString('en-US')} requests done ${formatMs(s.budget.elapsedMs)} ms ` +
        `after the start → ${formatRate(s.budget.rps)} req/s including the ramp-up.`,
      '',
    );
  }
  if (s.rss !== null) {
    out.push(
      markdownTable(
        ['process', 'pid', 'first RSS MiB', 'last RSS MiB', 'max RSS MiB', 'samples'],
        s.rss.processes.map((p) => [
          p.name,
          String(p.pid),
          p.firstKiB === null ? '—' : (p.firstKiB / KIB_PER_MIB).toFixed(1),
          p.lastKiB === null ? '—' : (p.lastKiB / KIB_PER_MIB).toFixed(1),
          p.maxKiB === null ? '—' : (p.maxKiB / KIB_PER_MIB).toFixed(1),
          String(p.samples),
        ]),
      ),
      '',
    );
  }
  if (s.memory != null) {
    out.push(
      `Memory (sampled every ${s.memory.intervalMs / 1000} s; flat = at most ` +
        `${(s.memory.maxGrowthRatio * 100).toFixed(0)} % growth over the second half, after caches filled):`,
      '',
      markdownTable(
        ['what', 'first MiB', 'middle MiB', 'last MiB', 'max MiB', 'second-half growth', 'samples'],
        s.memory.series.map((m) => [
          m.name,
          ...[m.firstBytes, m.halfBytes, m.lastBytes, m.maxBytes].map((b) =>
            b === null ? '—' : (b / KIB_PER_MIB / 1024).toFixed(1),
          ),
          m.growthRatio === null ? '—' : `${(m.growthRatio * 100).toFixed(1)} %`,
          String(m.samples),
        ]),
      ),
      '',
    );
  }
  if (s.cpu != null) {
    const busy =
      s.cpu.machineBusyPercent === null ? '' : ` The machine was ${s.cpu.machineBusyPercent.toFixed(0)} % busy.`;
    out.push(
      `CPU during the load (% of one core; ${s.cpu.cores} cores = ${s.cpu.cores * 100} %):${busy}`,
      '',
      markdownTable(
        ['tier', 'processes', 'CPU % of one core'],
        [
          ...s.cpu.tiers.map((t) => [t.tier, String(t.processes), t.percentOfCore.toFixed(1)]),
          ['load generator (this runner)', '1', s.cpu.loadGeneratorPercentOfCore.toFixed(1)],
        ],
      ),
      '',
    );
  }
  out.push(
    `Thresholds: ${s.passed ? 'all passed' : 'not all passed'}.`,
    '',
    markdownTable(['metric', 'threshold', 'measured', 'result', 'note'], s.thresholds.map(thresholdLine)),
    '',
  );
  return out.join('\n');
}

/** The whole report as Markdown: run facts, baseline, summary table, then each scenario in detail. */
export function formatMarkdown(report: BenchReport): string {
  const out: string[] = ['# keyflow load test report', ''];
  out.push(
    markdownTable(
      ['', ''],
      [
        ['started', report.startedAt],
        ['finished', report.finishedAt],
        ['target', report.target],
        ['scale', String(report.scale)],
        ['command', `\`${report.command}\``],
        [
          'host',
          `${report.host.hostname}: ${report.host.cpus} × ${report.host.cpuModel}, ` +
            `${report.host.totalMemoryMiB} MiB, Node ${report.host.node}, load ${report.host.loadAverage.map((l) => l.toFixed(2)).join(' ')}`,
        ],
        ['result', report.passed ? 'all scenarios ran and passed their thresholds' : 'see below'],
      ],
    ),
    '',
  );
  out.push('## Baseline', '');
  if (report.baseline !== null) {
    const b = report.baseline;
    out.push(
      `Bare Fastify (\`GET /hello\`, \`PUT /hello\` echo) in its own process behind a private nginx ${b.nginxVersion} ` +
        `with the gateway's proxy settings, ${b.connections} connections (closed model). Every figure below also ` +
        'appears as a ratio to it: reads to the baseline GET, writes to the baseline PUT, write visibility to the ' +
        'baseline GET p99, RSS to the hello server.',
      '',
      `GET: ${formatRate(b.get.rps)} req/s, p50 ${formatMs(b.get.latency.p50Ms)} ms, p99 ${formatMs(b.get.latency.p99Ms)} ms, ` +
        `${b.get.failures} errors. PUT: ${formatRate(b.put.rps)} req/s, p99 ${formatMs(b.put.latency.p99Ms)} ms, ` +
        `${b.put.failures} errors. Machine load average ${b.hostLoad.start.toFixed(2)} → ${b.hostLoad.end.toFixed(2)}` +
        ` on ${report.host.cpus} CPUs.`,
      '',
    );
  } else {
    out.push(
      report.baselineError === null ? 'Not measured (`--skip-baseline`).' : `Failed: ${report.baselineError}`,
      '',
    );
  }
  out.push('## Summary', '', markdownTable(COLUMNS, report.rows.map(cells)), '');
  if (report.targets != null) out.push(formatTargetsSection(report.targets));
  if (report.failures.length > 0) {
    out.push('## Scenarios that did not run', '');
    for (const f of report.failures) out.push(`- **${f.scenario}**: ${f.error}`);
    out.push('');
  }
  if (report.scenarios.length > 0) {
    out.push('## Scenarios', '');
    for (const s of report.scenarios) out.push(scenarioSection(s));
  }
  return `${out.join('\n').trimEnd()}\n`;
}
