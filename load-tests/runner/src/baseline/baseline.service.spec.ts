import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive } from '@keyflow/testing';
import { BaselineService } from './baseline.service';
import { nginxBinary } from './nginx-process.service';

const hasNginx = existsSync(nginxBinary());

describe(BaselineService.name, () => {
  describe('run', () => {
    it.skipIf(!hasNginx)(
      'should measure GET and PUT through a private nginx and stop everything it started',
      async () => {
        const lines: string[] = [];
        const result = await new BaselineService().run({
          connections: 8,
          getDurationMs: 500,
          putDurationMs: 300,
          warmupMs: 200,
          progressIntervalMs: 0,
          log: (line) => lines.push(line),
          cwd: resolve(__dirname, '../../../..'),
        });
        expect(result.get.requests).toBeGreaterThan(100);
        expect(result.get.failures).toBe(0);
        expect(result.put.requests).toBeGreaterThan(50);
        expect(result.put.failures).toBe(0);
        expect(result.rss.maxKiB).toBeGreaterThan(10_000);

        const pids =
          lines
            .join('\n')
            .match(/pid (\d+)/g)
            ?.map((m) => Number(m.slice(4))) ?? [];
        expect(pids).toHaveLength(2);
        for (const pid of pids) expect(isAlive(pid)).toBe(false);
      },
      60_000,
    );
  });
});
