import type { StackProcess } from '@keyflow/testing';
import { join } from 'node:path';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import type { StackLayout } from '../stack-layout.util';
import { run, terminateTree } from '../util/process.util';
import { httpStatus, waitUntil } from '../util/wait.util';

/** The gateway: one private nginx (prefix = run dir, in the foreground) serving every `gateway.instances` listener. */
export class NginxService implements StackComponent {
  constructor(private readonly layout: StackLayout) {}

  get configFile(): string {
    return join(this.layout.conf, 'nginx.conf');
  }

  /** Without `-e`, nginx opens /var/log/nginx/error.log before it reads the config. */
  private get flags(): string[] {
    return ['-p', this.layout.run, '-c', this.configFile, '-e', join(this.layout.run, 'nginx-error.log')];
  }

  async validate(): Promise<void> {
    const res = await run('nginx', ['-t', ...this.flags], { check: false });
    if (res.code !== 0)
      throw new StackError(`nginx -t rejected ${this.configFile}`, `${res.stdout}${res.stderr}`.trim());
  }

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    if (topology.gateway.daemon) {
      throw new StackError(
        'the local stack runs nginx under its supervisor: set gateway.daemon: false in the topology',
      );
    }
    const gateways = topology.gateway.instances;
    const first = gateways[0];
    return [
      {
        spec: {
          name: 'nginx',
          group: 'nginx',
          command: 'nginx',
          args: this.flags,
          cwd: layout.run,
          priority: 400,
          startSecs: 1,
          startRetries: 10,
          // SIGQUIT: finish the requests in flight, then exit.
          stopSignal: 'QUIT',
          stopWaitSecs: 15,
        },
        proc: {
          name: 'nginx',
          kind: 'nginx',
          host: first?.host,
          port: first?.port,
          ports: gateways.map((g) => g.port),
          healthUrl: first ? `http://${first.host}:${first.port}/health/ready` : undefined,
        },
      },
    ];
  }

  async ensure({ topology, progress, supervisor }: StartContext): Promise<void> {
    await supervisor.startGroup('nginx');
    const gateways = topology.gateway.instances;
    await Promise.all(
      gateways.map((g) => {
        const url = `http://${g.host}:${g.port}/health/ready`;
        return waitUntil(async () => (await httpStatus(url)) === 200, {
          timeoutMs: 30_000,
          what: `${url} to answer 200`,
        });
      }),
    );
    progress.line('nginx', `gateway up: ${gateways.map((g) => `http://${g.host}:${g.port}`).join(', ')}`);
  }

  stop(proc: StackProcess): Promise<string> {
    return terminateTree(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    if (!proc.healthUrl) return { healthy: false, detail: 'no health URL recorded' };
    const status = await httpStatus(proc.healthUrl);
    return { healthy: status === 200, detail: `GET ${new URL(proc.healthUrl).pathname} → ${status ?? 'no answer'}` };
  }
}
