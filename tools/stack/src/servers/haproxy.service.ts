import type { StackProcess } from '@keyflow/testing';
import { join } from 'node:path';
import type { Health, ProcessControl, StartContext } from '../stack-context';
import { StackError } from '../stack.exception';
import type { StackLayout } from '../stack-layout.util';
import { readPidFile, run, terminateTree } from '../util/process.util';
import { canConnect, waitUntil } from '../util/wait.util';
import { configDirectiveFromFile } from './config-file.util';

/** HAProxy in front of PostgreSQL (writes to the primary, reads to replicas) and RabbitMQ. */
export class HaproxyService implements ProcessControl {
  constructor(private readonly layout: StackLayout) {}

  get configFile(): string {
    return join(this.layout.conf, 'haproxy.cfg');
  }

  async validate(): Promise<void> {
    const res = await run('haproxy', ['-c', '-f', this.configFile], { check: false });
    if (res.code !== 0) {
      throw new StackError(`haproxy -c rejected ${this.configFile}`, `${res.stdout}${res.stderr}`.trim());
    }
  }

  async start({ topology, progress, record }: StartContext): Promise<void> {
    const pidFile = configDirectiveFromFile(this.configFile, 'pidfile') ?? join(this.layout.run, 'haproxy.pid');
    await run('haproxy', ['-D', '-f', this.configFile, '-p', pidFile]);
    const pid = readPidFile(pidFile);
    if (!pid) throw new StackError(`haproxy started but wrote no pid to ${pidFile}`);
    const { host, dbWritePort, dbReadPort, amqpPort, statsPort } = topology.haproxy;
    const ports = [dbWritePort, dbReadPort, amqpPort, statsPort];
    record.addProcess({ name: 'haproxy', pid, kind: 'haproxy', host, port: statsPort, ports });
    await Promise.all(
      ports.map((port) =>
        waitUntil(() => canConnect(host, port), { timeoutMs: 10_000, what: `haproxy on ${host}:${port}` }),
      ),
    );
    // Writes must reach the primary: the primary check marks a standby down within a couple of seconds.
    const { user, name } = topology.database;
    const psqlArgs = ['-X', '-A', '-t', '-h', host, '-p', String(dbWritePort), '-U', user, '-d', name];
    await waitUntil(
      async () => {
        const probe = await run('psql', [...psqlArgs, '-c', 'SELECT pg_is_in_recovery()'], {
          check: false,
          timeoutMs: 5_000,
          env: { ...process.env, PGCONNECT_TIMEOUT: '2' },
        });
        return probe.code === 0 && probe.stdout.trim() === 'f';
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `psql through ${host}:${dbWritePort} to reach the primary` },
    );
    progress.line(
      'haproxy',
      `up: db write ${dbWritePort} → primary, db read ${dbReadPort}, amqp ${amqpPort}, stats ${statsPort}`,
    );
  }

  stop(proc: StackProcess): Promise<string> {
    return terminateTree(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    const host = proc.host ?? '127.0.0.1';
    const ports = proc.ports ?? (proc.port ? [proc.port] : []);
    const closed: number[] = [];
    for (const port of ports) if (!(await canConnect(host, port))) closed.push(port);
    return {
      healthy: ports.length > 0 && closed.length === 0,
      detail: closed.length ? `not listening on ${closed.join(', ')}` : `listening on ${ports.join(', ')}`,
    };
  }
}
