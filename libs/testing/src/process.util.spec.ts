import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from './poll-until.util';
import { childPids, isAlive, processGroup, stackProcessIds } from './process.util';
import { STACK_DIR_ENV } from './stack-contract';

const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

async function sleeper(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const child = spawn('sleep', ['30'], { env, stdio: 'ignore' });
  children.push(child);
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  if (child.pid === undefined) throw new Error('sleep did not start');
  return child.pid;
}

function state(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? '';
}

describe('process.util', () => {
  describe(isAlive.name, () => {
    it('should say a running process is alive and no pid is not', async () => {
      expect(isAlive(await sleeper())).toBe(true);
      expect(isAlive(process.pid)).toBe(true);
      expect(isAlive(0)).toBe(false);
      expect(isAlive(undefined)).toBe(false);
    });

    it('should count a zombie as gone, though signal 0 still reaches it', async () => {
      const pid = await sleeper();
      process.kill(pid, 'SIGKILL');
      // Node reaps its children on the event loop; staying synchronous keeps the child a zombie meanwhile.
      const until = Date.now() + 5_000;
      while (state(pid) !== 'Z' && Date.now() < until);
      expect(state(pid)).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect(isAlive(pid)).toBe(false);
    });
  });

  describe(processGroup.name, () => {
    it("should read a process's group, and nothing for a pid that does not exist", () => {
      expect(processGroup(process.pid)).toBeGreaterThan(0);
      expect(processGroup(2 ** 22 + 1)).toBeUndefined();
    });
  });

  describe(childPids.name, () => {
    it('should list the processes whose parent is the given one', async () => {
      const pid = await sleeper();
      expect(childPids(process.pid)).toContain(pid);
      expect(childPids(pid)).toEqual([]);
    });
  });

  describe(stackProcessIds.name, () => {
    it("should find the live processes carrying the stack's marker, and only those", async () => {
      const stackDir = `/tmp/keyflow-process-util-spec-${process.pid}`;
      const marked = await sleeper({ ...process.env, [STACK_DIR_ENV]: stackDir });
      await sleeper();
      expect(stackProcessIds(stackDir)).toEqual([marked]);
      process.kill(marked, 'SIGKILL');
      // The signal is delivered asynchronously: poll until the process is gone rather than read once.
      await pollUntil(
        () => Promise.resolve(stackProcessIds(stackDir)),
        (pids) => pids.length === 0,
        { what: 'the killed process to leave the list', timeoutMs: 5_000 },
      );
    });
  });
});
