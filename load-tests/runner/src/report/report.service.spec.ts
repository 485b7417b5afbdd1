import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineScenarios } from '../../../scenarios/scenarios';
import type { BaselineResult } from '../baseline/baseline.service';
import type { OperationResult } from '../load/scenario-metrics.service';
import type { ScenarioResult } from '../load/scenario-runner.service';
import { formatConsoleTable, formatMarkdown, formatMs, formatRatio, ratio, summaryRows } from './report-format.util';
import type { HostInfo } from './report.dto';
import { fileTimestamp, ReportService } from './report.service';

function op(name: OperationResult['op'], rps: number, p99Ms: number, failures = 0): OperationResult {
  return {
    op: name,
    requests: rps * 10,
    rps,
    latency: {
      count: rps * 10,
      minMs: 0.1,
      meanMs: p99Ms / 3,
      p50Ms: p99Ms / 4,
      p90Ms: p99Ms / 2,
      p95Ms: p99Ms / 1.5,
      p99Ms,
      maxMs: p99Ms * 2,
    },
    failures,
    errorRate: failures / (rps * 10),
    errors: failures > 0 ? { 'status 503': failures } : {},
  };
}

const baseline: BaselineResult = {
  startedAt: '2025-01-01T00:00:00.000Z',
  connections: 64,
  nginxVersion: 'nginx/1.22.1',
  target: 'http://127.0.0.1:40000',
  hostLoad: { start: 0.1, end: 0.2 },
  get: op('get', 10_000, 4),
  put: op('put', 8000, 5),
  rss: { intervalMs: 500, processes: [], maxKiB: 100 * 1024, maxTotalKiB: 100 * 1024 },
};

const scenario: ScenarioResult = {
  name: 'cache-hit-get',
  description: defineScenarios(1)['cache-hit-get'].description,
  targets: ['≥ 60% of the baseline req/s'],
  api: 'v1',
  executor: defineScenarios(1)['cache-hit-get'].executor,
  status: 'completed',
  startedAt: '2025-01-01T00:01:00.000Z',
  hostLoad: { start: 0.5, end: 1.5 },
  setup: { keys: 1000, durationMs: 1234 },
  load: {
    durationS: 20,
    iterations: 120_000,
    dropped: 0,
    peakVUs: 64,
    interrupted: 0,
    maxSchedulerLagMs: 0,
    runnerErrors: 0,
  },
  operations: [op('get', 6000, 8, 3), op('all', 6000, 8, 3)],
  visibility: { sampleRate: 0, samples: 0, timeouts: 0, skipped: 0, latency: null },
  backlogDrain: null,
  budget: null,
  rss: {
    intervalMs: 500,
    processes: [{ name: 'api-1', pid: 42, samples: 40, firstKiB: 150 * 1024, lastKiB: 180 * 1024, maxKiB: 200 * 1024 }],
    maxKiB: 200 * 1024,
    maxTotalKiB: 200 * 1024,
  },
  cpu: {
    durationS: 20,
    cores: 2,
    tiers: [
      { tier: 'api', percentOfCore: 101.2, processes: 2 },
      { tier: 'nginx', percentOfCore: 22.5, processes: 1 },
    ],
    loadGeneratorPercentOfCore: 26.8,
    machineBusyPercent: 91.5,
  },
  thresholds: [
    { metric: 'http_req_duration{op:get}', expression: 'p(99)<=20', status: 'pass', actual: 8 },
    { metric: 'http_req_failed{traffic:load}', expression: 'rate==0', status: 'fail', actual: 0.000025 },
  ],
  passed: false,
};

const host: HostInfo = {
  hostname: 'bench',
  cpus: 2,
  cpuModel: 'Test CPU',
  totalMemoryMiB: 4096,
  node: 'v20.0.0',
  platform: 'linux-x64',
  loadAverage: [0.5, 0.4, 0.3],
};

/** The report of one run: the baseline, one scenario, and a scenario that could not run. */
const build = () =>
  new ReportService().build(
    {
      startedAt: new Date('2025-01-01T00:00:00.000Z'),
      finishedAt: new Date('2025-01-01T00:02:00.000Z'),
      command: 'npm run bench -- --scenario cache-hit-get',
      target: 'http://127.0.0.1:8080',
      scale: 1,
      strict: false,
      baseline,
      baselineError: null,
      scenarios: [scenario],
      failures: [{ scenario: 'soak', error: 'setup failed: status 401' }],
    },
    host,
  );

describe(ReportService.name, () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  describe('build', () => {
    it('should give every figure a ratio to the matching baseline figure', () => {
      const rows = summaryRows(baseline, [scenario]);
      expect(rows.map((r) => `${r.scenario}/${r.op}`)).toEqual([
        'baseline/get',
        'baseline/put',
        'cache-hit-get/get',
        'cache-hit-get/all',
      ]);
      const all = rows[3];
      expect(all).toMatchObject({ rpsRatio: 0.6, p99Ratio: 2, maxRatio: 2, apiMaxRssMiB: 200, rssRatio: 2 });
      expect(all?.thresholds).toEqual({ passed: 1, total: 2 });
      expect(rows[2]?.thresholds).toBeNull();
    });

    it('should not pass a run in which a scenario could not run', () => {
      expect(build().passed).toBe(false);
    });
  });

  describe('write', () => {
    it('should write timestamped JSON and Markdown reports and the latest copies', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kf-report-'));
      dirs.push(dir);
      const files = await new ReportService().write(build(), dir);
      expect(files.json).toBe(join(dir, '2025-01-01T00-00-00Z-report.json'));
      for (const name of ['latest.json', 'latest.md', '2025-01-01T00-00-00Z-report.md']) {
        expect(existsSync(join(dir, name))).toBe(true);
      }
      const json = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8')) as {
        scenarios: unknown[];
        rows: unknown[];
      };
      expect(json.scenarios).toHaveLength(1);
      expect(json.rows).toHaveLength(4);
    });
  });
});

describe('report-format.util', () => {
  describe(formatConsoleTable.name, () => {
    it('should print one aligned row per baseline and scenario operation', () => {
      expect(formatConsoleTable(summaryRows(baseline, [scenario]))).toMatchInlineSnapshot(`
        "scenario       op    req/s  ×baseline      p50 ms      p95 ms      p99 ms      max ms     errors  visibility p99 ms  API max RSS MiB  thresholds
        -------------  ---  ------  ---------  ----------  ----------  ----------  ----------  ---------  -----------------  ---------------  ----------
        baseline       get  10,000      ×1.00  1.00 ×1.00  2.67 ×1.00  4.00 ×1.00  8.00 ×1.00          0                           100 ×1.00
        baseline       put   8,000      ×1.00  1.25 ×1.00  3.33 ×1.00  5.00 ×1.00  10.0 ×1.00          0                           100 ×1.00
        cache-hit-get  get   6,000      ×0.60  2.00 ×2.00  5.33 ×2.00  8.00 ×2.00  16.0 ×2.00  3 (0.01%)
        cache-hit-get  all   6,000      ×0.60  2.00 ×2.00  5.33 ×2.00  8.00 ×2.00  16.0 ×2.00  3 (0.01%)                           200 ×2.00  FAIL 1/2"
      `);
    });
  });

  describe(formatMarkdown.name, () => {
    it('should contain the baseline, the summary, each scenario with its thresholds, and what did not run', () => {
      const md = formatMarkdown(build());
      expect(md).toContain('## Baseline');
      expect(md).toContain('GET: 10,000 req/s');
      expect(md).toContain('| cache-hit-get | all | 6,000 | ×0.60 |');
      expect(md).toContain('| `http_req_failed{traffic:load}` | `rate==0` | 0.000 | ❌ fail |');
      expect(md).toContain('| api-1 | 42 | 150.0 | 180.0 | 200.0 | 40 |');
      expect(md).toContain('CPU during the load (% of one core; 2 cores = 200 %): The machine was 92 % busy.');
      expect(md).toContain('| api | 2 | 101.2 |');
      expect(md).toContain('| load generator (this runner) | 1 | 26.8 |');
      expect(md).toContain('- **soak**: setup failed: status 401');
    });
  });

  describe('numbers', () => {
    it('should format latencies, ratios and missing values', () => {
      expect(formatMs(0.123)).toBe('0.12');
      expect(formatMs(12.34)).toBe('12.3');
      expect(formatMs(12_345)).toBe('12,345');
      expect(formatMs(null)).toBe('—');
      expect(formatRatio(0.6)).toBe('×0.60');
      expect(formatRatio(12.5)).toBe('×12.5');
      expect(ratio(1, 0)).toBeNull();
      expect(fileTimestamp(new Date('2025-01-02T03:04:05.678Z'))).toBe('2025-01-02T03-04-05Z');
    });
  });
});
