import type { StackProcess } from '@keyflow/testing';
import { join } from 'node:path';
import { requireSecrets } from '../secrets.util';
import { inheritedEnv } from '../stack-file.util';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import type { StackLayout } from '../stack-layout.util';
import { run, terminateTree } from '../util/process.util';
import { canConnect, waitUntil } from '../util/wait.util';

/** HAProxy in front of PostgreSQL (writes to the primary, reads to replicas) and RabbitMQ. */
export class HaproxyService implements StackComponent {
  constructor(private readonly layout: StackLayout) {}

  get configFile(): string {
    return join(this.layout.conf, 'haproxy.cfg');
  }

  /** haproxy.cfg reads the stats page's login from these (it holds no password itself). */
  private statsEnv(): Record<string, string> {
    const { username, password } = requireSecrets(this.layout).haproxyStats;
    return { HAPROXY_STATS_USER: username, HAPROXY_STATS_PASSWORD: password };
  }

  async validate(): Promise<void> {
    const res = await run('haproxy', ['-c', '-f', this.configFile], {
      check: false,
      env: { ...process.env, ...this.statsEnv() },
    });
    if (res.code !== 0) {
      throw new StackError(`haproxy -c rejected ${this.configFile}`, `${res.stdout}${res.stderr}`.trim());
    }
  }

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const { host, dbWritePort, dbReadPort, amqpPort, statsPort } = topology.haproxy;
    return [
      {
        spec: {
          name: 'haproxy',
          group: 'haproxy',
          // -db: stay in the foreground, under the supervisor.
          command: 'haproxy',
          args: ['-db', '-f', this.configFile],
          env: { ...inheritedEnv(), ...this.statsEnv() },
          cwd: layout.run,
          priority: 200,
          startSecs: 1,
          startRetries: 10,
          // SIGUSR1 would drain; the stack stops HAProxy after its clients, so TERM is enough.
          stopWaitSecs: 10,
        },
        proc: {
          name: 'haproxy',
          kind: 'haproxy',
          host,
          port: statsPort,
          ports: [dbWritePort, dbReadPort, amqpPort, statsPort],
        },
      },
    ];
  }

  async ensure({ topology, progress, supervisor }: StartContext): Promise<void> {
    await supervisor.startGroup('haproxy');
    const { host, dbWritePort, dbReadPort, amqpPort, statsPort } = topology.haproxy;
    const ports = [dbWritePort, dbReadPort, amqpPort, statsPort];
    await Promise.all(
      ports.map((port) =>
        waitUntil(() => canConnect(host, port), { timeoutMs: 10_000, what: `haproxy on ${host}:${port}` }),
      ),
    );
    // Writes must reach the primary: the primary check marks a standby down within a couple of seconds.
    const app = requireSecrets(this.layout).postgres.app;
    const psqlArgs = ['-X', '-A', '-t', '-h', host, '-p', String(dbWritePort), '-U', app.username];
    psqlArgs.push('-d', topology.database.name);
    await waitUntil(
      async () => {
        const probe = await run('psql', [...psqlArgs, '-c', 'SELECT pg_is_in_recovery()'], {
          check: false,
          timeoutMs: 5_000,
          env: { ...process.env, PGCONNECT_TIMEOUT: '2', PGPASSWORD: app.password },
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
