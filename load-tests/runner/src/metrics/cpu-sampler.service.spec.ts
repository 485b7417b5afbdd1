import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuSampler, parseMachineStat, parseProcStat } from './cpu-sampler.service';

/** A `/proc/<pid>/stat` line: utime, stime, cutime, cstime are fields 14–17 (1-based). */
const statLine = (pid: number, comm: string, ppid: number, [u, s, cu, cs]: number[]): string =>
  `${pid} (${comm}) S ${ppid} 1 1 0 -1 4194560 100 0 0 0 ${u} ${s} ${cu} ${cs} 20 0 1 0 100 1000 100\n`;

describe(CpuSampler.name, () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function writeProc(root: string, procs: Array<[pid: number, ppid: number, ticks: number[]]>, machine: string): void {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root);
    for (const [pid, ppid, ticks] of procs) {
      mkdirSync(join(root, String(pid)));
      writeFileSync(join(root, String(pid), 'stat'), statLine(pid, 'a (b) c', ppid, ticks));
    }
    writeFileSync(join(root, 'stat'), machine);
  }

  it('should parse a stat line whose command holds spaces and parentheses', () => {
    expect(parseProcStat(statLine(7, 'a (b) c', 3, [10, 5, 2, 1]))).toEqual({ ppid: 3, ticks: 18 });
  });

  it('should read busy and total jiffies from /proc/stat, idle and iowait not busy', () => {
    expect(parseMachineStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n')).toEqual([150, 1000]);
    expect(parseMachineStat('nothing\n')).toBeUndefined();
  });

  it('should add up each tier with its descendants, a child that exited included', async () => {
    const root = join(mkdtempSync(join(tmpdir(), 'kf-cpu-')), 'proc');
    dirs.push(root);
    // postgres 10 has backends 11 and 12; api-1 is 20, api-2 is 21; 99 is not part of the stack.
    writeProc(
      root,
      [
        [10, 1, [1, 1, 0, 0]],
        [11, 10, [10, 0, 0, 0]],
        [12, 10, [5, 0, 0, 0]],
        [20, 1, [100, 0, 0, 0]],
        [21, 1, [100, 0, 0, 0]],
        [99, 1, [0, 0, 0, 0]],
      ],
      'cpu  0 0 0 1000 0 0 0 0\n',
    );
    const sampler = new CpuSampler(
      [
        { name: 'postgres-primary', pid: 10, tier: 'postgres' },
        { name: 'api-1', pid: 20, tier: 'api' },
        { name: 'api-2', pid: 21, tier: 'api' },
      ],
      2,
      root,
    );
    await sampler.start();
    // Backend 12 exited (its 5 + 20 more ticks moved to the postmaster's cutime); 11 used 30 more; 99 is ignored.
    writeProc(
      root,
      [
        [10, 1, [1, 1, 25, 0]],
        [11, 10, [40, 0, 0, 0]],
        [20, 1, [150, 0, 0, 0]],
        [21, 1, [110, 0, 0, 0]],
        [99, 1, [500, 0, 0, 0]],
      ],
      'cpu  100 0 100 1200 0 0 0 0\n',
    );
    const report = await sampler.stop();
    expect(report).not.toBeNull();
    const seconds = report?.durationS ?? 1;
    const tiers = Object.fromEntries((report?.tiers ?? []).map((t) => [t.tier, t.percentOfCore * seconds]));
    expect(tiers.api).toBeCloseTo(60, 0); // 60 ticks = 0.6 s of CPU
    expect(tiers.postgres).toBeCloseTo(50, 0); // 30 (backend 11) + 20 (backend 12 after the first snapshot)
    expect(report?.tiers.map((t) => t.tier)).toEqual(['api', 'postgres']);
    expect(report?.machineBusyPercent).toBe(50);
    expect(report?.cores).toBe(2);
  });

  it('should report nothing when it never started', async () => {
    expect(await new CpuSampler([], 2).stop()).toBeNull();
  });
});
