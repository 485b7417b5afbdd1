import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRssKiB, RssSampler } from './rss-sampler.service';

describe(RssSampler.name, () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function fakeProc(rssByPid: Record<number, number>): string {
    const root = mkdtempSync(join(tmpdir(), 'kf-proc-'));
    dirs.push(root);
    for (const [pid, kib] of Object.entries(rssByPid)) {
      mkdirSync(join(root, pid));
      writeFileSync(join(root, pid, 'status'), `Name:\tnode\nVmPeak:\t 999999 kB\nVmRSS:\t   ${kib} kB\nThreads:\t7\n`);
    }
    return root;
  }

  describe('readRssKiB', () => {
    it('should read the resident set of a live process', async () => {
      const kib = await readRssKiB(process.pid);
      expect(kib).toBeGreaterThan(10_000);
    });

    it('should return undefined for a process that does not exist', async () => {
      expect(await readRssKiB(1, fakeProc({}))).toBeUndefined();
    });
  });

  describe('stop', () => {
    it('should report the largest RSS per process, overall and summed', async () => {
      const root = fakeProc({ 10: 1000, 11: 3000 });
      const sampler = new RssSampler(
        [
          { name: 'api-1', pid: 10 },
          { name: 'api-2', pid: 11 },
          { name: 'api-3', pid: 12 },
        ],
        10_000,
        root,
      );
      await sampler.start();
      writeFileSync(join(root, '10', 'status'), 'VmRSS:\t 5000 kB\n');
      const report = await sampler.stop();
      expect(report.maxKiB).toBe(5000);
      expect(report.maxTotalKiB).toBe(8000);
      expect(report.processes).toEqual([
        { name: 'api-1', pid: 10, samples: 2, firstKiB: 1000, lastKiB: 5000, maxKiB: 5000 },
        { name: 'api-2', pid: 11, samples: 2, firstKiB: 3000, lastKiB: 3000, maxKiB: 3000 },
        { name: 'api-3', pid: 12, samples: 0, firstKiB: null, lastKiB: null, maxKiB: null },
      ]);
    });
  });
});
