import { readdirSync, readFileSync } from 'node:fs';
import { STACK_DIR_ENV } from './stack-contract';

// Linux process facts read from /proc, shared by `tools/stack` (which starts and stops the stack) and the tests
// (which kill parts of it). They only read; signalling is up to the caller.

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
}

/** `/proc/<pid>/stat` is "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses, hence the last ')'. */
function readProcStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '', ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** Every pid in /proc but our own, each with its parent's pid (processes that exit while we look are left out). */
function parentsByPid(): Map<number, number> {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const stat = readProcStat(Number(entry));
    if (stat) parentOf.set(Number(entry), stat.ppid);
  }
  return parentOf;
}

/**
 * Whether `pid` runs. Signal 0 answers for a zombie too (exited, not yet reaped: a killed child of ours, or a
 * daemon that init is slow to reap in a container), so a zombie counts as gone — it is, for every purpose here.
 * EPERM means it runs as another user.
 */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** The process group of `pid` (the supervisor makes each program a group leader), or undefined when it is gone. */
export function processGroup(pid: number): number | undefined {
  return readProcStat(pid)?.pgrp;
}

/** Pids whose parent is `pid` (nginx workers, HAProxy check forks): they must not outlive a killed parent. */
export function childPids(pid: number): number[] {
  return [...parentsByPid()].filter(([, parent]) => parent === pid).map(([child]) => child);
}

/**
 * Every live pid (but ours) of the stack in `stackDir`: those whose environment carries its `STACK_DIR_ENV`
 * marker, and all their descendants (Redis and nginx overwrite their environment with their process title, but
 * are the supervisor's children).
 */
export function stackProcessIds(stackDir: string): number[] {
  const marker = `${STACK_DIR_ENV}=${stackDir}`;
  const parentOf = parentsByPid();
  const found = new Set<number>();
  for (const pid of parentOf.keys()) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker)) found.add(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, parent] of parentOf) {
      if (!found.has(pid) && found.has(parent)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found].filter((pid) => isAlive(pid));
}
