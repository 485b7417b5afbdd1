import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { apiProcesses, readStackInfo, StackFileError, tierProcesses } from './stack-info.util';

describe('stack-info.util', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const file = (content: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'kf-stack-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'stack.json'), content);
    return join(dir, 'stack.json');
  };

  describe(readStackInfo.name, () => {
    it('should return undefined when no stack is running', () => {
      expect(readStackInfo('/nonexistent/stack.json')).toBeUndefined();
    });

    it('should read the gateway, token and processes, keeping fields it does not know', () => {
      const stack = readStackInfo(
        file(
          JSON.stringify({
            gateway: 'http://127.0.0.1:8080',
            apis: ['http://127.0.0.1:3001'],
            stackDir: '.keyflow',
            token: 't0k',
            state: 'up',
            processes: [
              { name: 'api-1', pid: 101, kind: 'api' },
              { name: 'worker-1', pid: 201, kind: 'worker' },
              { name: 'api-2', pid: 102, kind: 'api' },
            ],
          }),
        ),
      );
      expect(stack).toMatchObject({ gateway: 'http://127.0.0.1:8080', token: 't0k', state: 'up' });
      expect(apiProcesses(stack)).toEqual([
        { name: 'api-1', pid: 101 },
        { name: 'api-2', pid: 102 },
      ]);
    });

    it('should group every stack process by its kind, or by its name without the instance part', () => {
      const stack = readStackInfo(
        file(
          JSON.stringify({
            gateway: 'http://127.0.0.1:8080',
            processes: [
              { name: 'api-1', pid: 101, kind: 'api' },
              { name: 'redis-7001', pid: 301 },
              { name: 'rabbitmq-rmq2', pid: 401 },
              { name: 'nginx', pid: 501 },
            ],
          }),
        ),
      );
      expect(tierProcesses(stack).map((p) => p.tier)).toEqual(['api', 'redis', 'rabbitmq', 'nginx']);
    });

    it('should say which field is wrong', () => {
      expect(() => readStackInfo(file('{"gateway": 8080}'))).toThrow(StackFileError);
      expect(() => readStackInfo(file('{"gateway": 8080}'))).toThrow(/gateway/);
      expect(() => readStackInfo(file('not json'))).toThrow(/not JSON/);
    });
  });
});
