import { describe, expect, it } from 'vitest';
import type { CpuReport } from '../metrics/cpu-sampler.service';
import {
  buildTargetRows,
  describeTargetCpu,
  formatTargetsConsole,
  formatTargetsMarkdown,
  rowVerdict,
  tierCpuSeconds,
} from './targets-table.util';
import type { TargetRun } from './targets.dto';

/** 10 s of CPU: rabbitmq 60 % and postgres 40 % of a core over 10 s = 6 s + 4 s. */
const cpu: CpuReport = {
  durationS: 10,
  cores: 2,
  tiers: [
    { tier: 'rabbitmq', percentOfCore: 60, processes: 3 },
    { tier: 'postgres', percentOfCore: 40, processes: 2 },
  ],
  loadGeneratorPercentOfCore: 5,
  machineBusyPercent: 90,
};

function run(overrides: Partial<TargetRun> & Pick<TargetRun, 'tool' | 'profile'>): TargetRun {
  return {
    command: 'x',
    connections: 64,
    durationS: 10,
    requests: 0,
    rps: 0,
    p50Ms: 1,
    p99Ms: 10,
    maxMs: 20,
    putP99Ms: null,
    errors: 0,
    errorDetail: {},
    acceptedWrites: null,
    dropped: null,
    visibilityP99Ms: null,
    visibilityTimeouts: null,
    cpu: null,
    loadGeneratorPercentOfCore: null,
    cpuPerWriteMs: null,
    apiMaxRssMiB: 180,
    drain: null,
    ...overrides,
  };
}

const drained = (ms: number | null): TargetRun['drain'] => ({
  markers: 64,
  shardQueues: null,
  markersMaxMs: ms,
  markersPending: ms === null ? 3 : 0,
  queues: null,
  queuesError: 'no management API in stack.json',
  drainedAfterMs: ms,
});

const runs: TargetRun[] = [
  run({ tool: 'node', profile: 'health-live', rps: 10_000 }),
  run({ tool: 'node', profile: 'cache-hit-get', rps: 7500, p99Ms: 21 }),
  run({ tool: 'wrk', profile: 'health-live', rps: 20_000 }),
  run({ tool: 'wrk', profile: 'cache-hit-get', rps: 10_000, apiMaxRssMiB: 250 }),
  run({
    tool: 'node',
    profile: 'store-put',
    rps: 1600,
    p99Ms: 90,
    acceptedWrites: 16_000,
    cpu,
    cpuPerWriteMs: 0.625,
    drain: drained(2500),
  }),
  run({
    tool: 'wrk',
    profile: 'store-put',
    rps: 1400,
    p99Ms: 80,
    acceptedWrites: 14_000,
    cpu,
    cpuPerWriteMs: 0.71,
    drain: drained(null),
  }),
  run({ tool: 'node', profile: 'reference', rps: 1500, putP99Ms: 100, errors: 0 }),
  run({
    tool: 'node',
    profile: 'sustained-writes-1000',
    requests: 60_000,
    rps: 1000,
    acceptedWrites: 60_000,
    dropped: 12,
    visibilityP99Ms: 180,
    visibilityTimeouts: 0,
    cpu,
    cpuPerWriteMs: 1.5,
    drain: drained(400),
  }),
];

describe(buildTargetRows.name, () => {
  const rows = buildTargetRows(runs);
  const byMeasure = (prefix: string) => rows.find((r) => r.measure.startsWith(prefix));

  it("should have one row per target of issue 14, in the issue's order, with the before figures", () => {
    expect(rows.map((r) => [r.measure, r.before])).toEqual([
      ['`PUT /store`, random keys, 64 connections', '720 req/s, p99 254 ms'],
      ['sustained writes at 1,000/s for 60 s', '—'],
      ['cache-hit GET ÷ `GET /health/live`, same gateway, same run', '0.52×'],
      ['reference profile (300 VUs, 50/50 `/store`)', '580 req/s, PUT p99 3.4 s'],
      ['API process RSS under load', '290–345 MiB'],
      ['CPU per accepted write, all tiers', '~3.7 ms'],
    ]);
  });

  it('should judge PUT /store per tool: rate, p99, errors and the drain all count', () => {
    const row = byMeasure('`PUT /store`');
    expect(row?.node).toEqual({
      text: '1,600 req/s, p99 90.0 ms, 0 errors, drained after 2.5 s',
      passed: true,
    });
    expect(row?.wrk).toEqual({ text: '1,400 req/s, p99 80.0 ms, 0 errors, queues not drained', passed: false });
    expect(row && rowVerdict(row)).toBe('FAIL');
  });

  it('should compute the cache-hit ratio within each tool, never across tools', () => {
    const row = byMeasure('cache-hit GET');
    expect(row?.node).toEqual({ text: '0.75× (7,500 ÷ 10,000 req/s, p99 21.0 ms)', passed: true });
    expect(row?.wrk).toEqual({ text: '0.50× (10,000 ÷ 20,000 req/s, p99 10.0 ms)', passed: false });
  });

  it('should take the rows only the Node runner measures from it, and leave wrk empty there', () => {
    const sustained = byMeasure('sustained writes');
    expect(sustained?.node).toEqual({
      text: '60,000 accepted (1,000/s), 12 dropped, visibility p99 180.0 ms, drained after 400 ms',
      passed: true,
    });
    expect(sustained?.wrk).toBeNull();
    expect(byMeasure('reference')?.node).toEqual({ text: '1,500 req/s, PUT p99 100.0 ms, 0 errors', passed: true });
    expect(byMeasure('reference')?.wrk).toBeNull();
  });

  it("should report the largest API RSS and every write run's CPU per write", () => {
    expect(byMeasure('API process RSS')?.node).toEqual({
      text: '180 MiB (max of one API process; during health-live)',
      passed: true,
    });
    expect(byMeasure('API process RSS')?.wrk?.passed).toBe(false);
    expect(byMeasure('CPU per accepted write')?.node).toEqual({
      text: '0.63 ms (store-put), 1.50 ms (sustained-writes-1000)',
      passed: false,
    });
    expect(byMeasure('CPU per accepted write')?.wrk).toEqual({ text: '0.71 ms (store-put)', passed: true });
  });

  it('should leave a row without data when no tool measured it', () => {
    const empty = buildTargetRows([]);
    expect(empty.every((r) => r.node === null && r.wrk === null)).toBe(true);
    expect(empty.map(rowVerdict)).toEqual(Array(6).fill('no data'));
  });
});

describe(formatTargetsMarkdown.name, () => {
  it('should render the table with a measured column per tool and the verdict', () => {
    const markdown = formatTargetsMarkdown(buildTargetRows(runs));
    const lines = markdown.split('\n');
    expect(lines[0]).toBe('| measure | before (issue) | target | measured: Node runner | measured: wrk | met? |');
    expect(lines).toHaveLength(2 + 6);
    expect(lines[2]).toBe(
      '| `PUT /store`, random keys, 64 connections | 720 req/s, p99 254 ms | ≥ 1,500 req/s, p99 ≤ 100 ms, 0 errors, ' +
        'queues drained within 10 s after the load | 1,600 req/s, p99 90.0 ms, 0 errors, drained after 2.5 s ✅ | ' +
        '1,400 req/s, p99 80.0 ms, 0 errors, queues not drained ❌ | FAIL |',
    );
    expect(lines[3]).toContain('| — | pass |');
  });
});

describe(formatTargetsConsole.name, () => {
  it('should print one block per target with the verdict first', () => {
    const text = formatTargetsConsole(buildTargetRows(runs));
    expect(text.split('\n').slice(0, 4)).toEqual([
      'FAIL    PUT /store, random keys, 64 connections',
      '        before 720 req/s, p99 254 ms; target ≥ 1,500 req/s, p99 ≤ 100 ms, 0 errors, queues drained within 10 s after the load',
      '        Node runner: 1,600 req/s, p99 90.0 ms, 0 errors, drained after 2.5 s ✅',
      '        wrk:         1,400 req/s, p99 80.0 ms, 0 errors, queues not drained ❌',
    ]);
  });
});

describe(describeTargetCpu.name, () => {
  it('should add up the tiers and divide by the accepted writes', () => {
    expect(tierCpuSeconds({ cpu })).toBeCloseTo(10);
    const line = describeTargetCpu(
      run({
        tool: 'wrk',
        profile: 'store-put',
        cpu,
        acceptedWrites: 16_000,
        cpuPerWriteMs: 0.625,
        loadGeneratorPercentOfCore: 42,
      }),
    );
    expect(line).toBe(
      '[wrk store-put] CPU (% of one core): rabbitmq 60, postgres 40, load generator (wrk) 5; machine 90 % busy ' +
        '(2 cores); CPU per accepted write 0.63 ms (10.0 s of CPU ÷ 16,000 writes)',
    );
    expect(describeTargetCpu(run({ tool: 'node', profile: 'health-live' }))).toBe(
      '[node health-live] CPU not sampled (no stack processes in stack.json)',
    );
  });
});
