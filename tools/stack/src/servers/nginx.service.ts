import type { StackProcess } from '@keyflow/testing';
import { join } from 'node:path';
import type { Health, ProcessControl, StartContext } from '../stack-context';
import { StackError } from '../stack.exception';
import type { StackLayout } from '../stack-layout.util';
import { readPidFile, run, terminateTree } from '../util/process.util';
import { httpStatus, waitUntil } from '../util/wait.util';
import { configDirectiveFromFile } from './config-file.util';

/** The gateway: one private nginx (prefix = run dir) serving every `gateway.instances` listener. */
export class NginxService implements ProcessControl {
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

  async start({ topology, progress, record }: StartContext): Promise<void> {
    const pidFile = configDirectiveFromFile(this.configFile, 'pid', this.layout.run);
    if (!pidFile) throw new StackError(`${this.configFile} has no pid directive: the stack could not track nginx`);
    // The rendered config says `daemon on`: the master forks, writes its pid file, and this command returns.
    await run('nginx', this.flags);
    const pid = readPidFile(pidFile);
    if (!pid) throw new StackError(`nginx started but wrote no pid to ${pidFile}`);
    const gateways = topology.gateway.instances;
    const first = gateways[0];
    const healthUrl = first ? `http://${first.host}:${first.port}/health/ready` : undefined;
    record.addProcess({
      name: 'nginx',
      pid,
      kind: 'nginx',
      host: first?.host,
      port: first?.port,
      ports: gateways.map((g) => g.port),
      healthUrl,
    });
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
