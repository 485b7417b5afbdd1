import { describe, expect, it } from 'vitest';
import { formatTargetsSection } from './targets-report.util';
import { buildTargetRows } from './targets-table.util';
import type { TargetRun, TargetsReport } from './targets.dto';

const storePut: TargetRun = {
  tool: 'wrk',
  profile: 'store-put',
  command: 'wrk -t 2 -c 64 -d 20s --timeout 10s -s store-put.lua http://127.0.0.21:8080 -- base= prefix=p keys=1000000',
  connections: 64,
  durationS: 20,
  requests: 30_010,
  rps: 1500.5,
  p50Ms: 30,
  p99Ms: 95,
  maxMs: 180,
  putP99Ms: null,
  errors: 10,
  errorDetail: { timeout: 4, 'status >= 400': 6 },
  acceptedWrites: 30_004,
  dropped: null,
  visibilityP99Ms: null,
  visibilityTimeouts: null,
  cpu: {
    durationS: 24,
    cores: 2,
    tiers: [{ tier: 'rabbitmq', percentOfCore: 50, processes: 3 }],
    loadGeneratorPercentOfCore: 1,
    machineBusyPercent: 97,
  },
  loadGeneratorPercentOfCore: 30,
  cpuPerWriteMs: 0.4,
  apiMaxRssMiB: 190.4,
  drain: {
    markers: 70,
    shardQueues: 16,
    markersMaxMs: 850,
    markersPending: 0,
    queues: { initialMessages: 1200, drainedAfterMs: 4100, lastMessages: 0, samples: 9 },
    queuesError: null,
    drainedAfterMs: 850,
  },
};

describe(formatTargetsSection.name, () => {
  it('should put the table first, then every run with its errors, drain, CPU per tier and command', () => {
    const report: TargetsReport = {
      wrk: { version: 'debian/4.1.0-3+b2 [epoll]', skipped: null },
      runs: [storePut],
      failures: [{ tool: 'node', profile: 'reference', error: 'setup failed' }],
      rows: buildTargetRows([storePut]),
    };
    const section = formatTargetsSection(report);
    expect(section).toContain("## Issue 14's targets");
    expect(section).toContain('by wrk (debian/4.1.0-3+b2 [epoll])');
    expect(section).toContain('| measure | before (issue) | target | measured: Node runner | measured: wrk | met? |');
    expect(section).toContain(
      '| wrk | store-put | 1,501 | 30.0 | 95.0 | 180.0 | 10 (timeout: 4, status >= 400: 6) | 30,004 | 0.40 | 190 | ' +
        '850.0 ms (70 markers on all 16 shard queues read back after 850.0 ms; ' +
        'management API: 1,200 msgs → 0 after 4,100 ms) |',
    );
    expect(section).toContain(
      '- [wrk store-put] CPU (% of one core): rabbitmq 50, load generator (wrk) 1; machine 97 % busy (2 cores); ' +
        'CPU per accepted write 0.40 ms (12.0 s of CPU ÷ 30,004 writes)',
    );
    expect(section).toContain(`- wrk store-put: \`${storePut.command}\``);
    expect(section).toContain('- **node reference**: setup failed');
  });

  it('should say why wrk did not run', () => {
    const section = formatTargetsSection({
      wrk: { version: null, skipped: '--skip-wrk' },
      runs: [],
      failures: [],
      rows: buildTargetRows([]),
    });
    expect(section).toContain('(not run: --skip-wrk)');
    expect(section).not.toContain('Commands:');
  });
});
