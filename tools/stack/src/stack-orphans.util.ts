import { isAlive, type StackInfo, type StackProcess } from '@keyflow/testing';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readLaunchSpec } from './stack-file.util';
import type { StackLayout } from './stack-layout.util';
import { readPidFile } from './util/process.util';

/**
 * Processes the stack's own pid files name but stack.json does not: an `up` interrupted between starting a
 * server and recording it (pg_ctl waits for PostgreSQL before we can read its pid). `down` stops them too,
 * after the usual check that the pid still runs the expected program.
 */
export function unrecordedProcesses(info: StackInfo | undefined, layout: StackLayout): StackProcess[] {
  const known = new Set((info?.processes ?? []).map((p) => p.pid));
  const found: StackProcess[] = [];
  const add = (proc: StackProcess | undefined): void => {
    if (proc && !known.has(proc.pid) && isAlive(proc.pid)) found.push(proc);
  };
  const pidFiles = existsSync(layout.run) ? readdirSync(layout.run).filter((f) => f.endsWith('.pid')) : [];
  for (const file of pidFiles) {
    const pid = readPidFile(join(layout.run, file));
    if (!pid) continue;
    const name = file.slice(0, -'.pid'.length);
    const redis = /^redis-(\d+)$/.exec(name);
    if (redis) add({ name, pid, kind: 'redis', host: '127.0.0.1', port: Number(redis[1]) });
    else if (name.startsWith('rabbitmq-')) add(rabbitmqFromLaunchSpec(layout, name, pid));
    else if (name === 'haproxy' || name === 'nginx') add({ name, pid, kind: name });
    else if (name.startsWith('nginx-')) add({ name, pid, kind: 'nginx' });
  }
  const pgBase = join(layout.data, 'postgres');
  for (const node of existsSync(pgBase) ? readdirSync(pgBase) : []) {
    const dataDir = join(pgBase, node);
    const pid = readPidFile(join(dataDir, 'postmaster.pid'));
    if (pid) add({ name: `postgres-${node.replace(/^pg-/, '')}`, pid, kind: 'postgres', dataDir });
  }
  return found;
}

function rabbitmqFromLaunchSpec(layout: StackLayout, name: string, pid: number): StackProcess | undefined {
  try {
    const { env } = readLaunchSpec(layout, name);
    return { name, pid, kind: 'rabbitmq', node: env['RABBITMQ_NODENAME'], port: Number(env['RABBITMQ_NODE_PORT']) };
  } catch {
    return undefined;
  }
}
