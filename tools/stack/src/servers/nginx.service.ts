import type { StackProcess } from '@keyflow/testing';
import type { Endpoint, Topology } from '@keyflow/topology';
import { join } from 'node:path';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import { gatewayUrls } from '../stack-file.util';
import type { StackLayout } from '../stack-layout.util';
import { run, terminateTree } from '../util/process.util';
import { httpHealth, httpStatus, waitUntil } from '../util/wait.util';

/** The supervisor's (and stack.json's) name of one gateway's nginx: `nginx-gateway-1`. */
export function gatewayProcessName(gateway: string): string {
  return `nginx-${gateway}`;
}

/**
 * Where a gateway answers its health check: over plain HTTP, which serves `/health/` even when it redirects every
 * other route to HTTPS.
 */
export function gatewayHealthUrl(topology: Topology, g: Endpoint): string {
  const { mode, redirectHttpPort } = topology.gateway.tls;
  if (mode === 'off') return `http://${g.host}:${g.port}/health/ready`;
  if (redirectHttpPort === undefined) {
    throw new StackError('the local stack checks gateways over plain HTTP: set gateway.tls.redirectHttpPort');
  }
  return `http://${g.host}:${redirectHttpPort}/health/ready`;
}

/**
 * The gateways: one private nginx per `gateway.instances` entry (prefix = run dir, in the foreground), each from
 * its own `nginx-<gateway>.conf` with its own pid file, logs and temp dirs. One gateway can die alone; the
 * supervisor brings it back while the others keep serving.
 */
function tlsPlainPort(topology: Topology): number[] | undefined {
  const { mode, redirectHttpPort } = topology.gateway.tls;
  return mode !== 'off' && redirectHttpPort !== undefined ? [redirectHttpPort] : undefined;
}

export class NginxService implements StackComponent {
  constructor(private readonly layout: StackLayout) {}

  configFile(gateway: string): string {
    return join(this.layout.conf, `nginx-${gateway}.conf`);
  }

  /** Without `-e`, nginx opens /var/log/nginx/error.log before it reads the config. */
  private flags(gateway: string): string[] {
    return [
      ...['-p', this.layout.run, '-c', this.configFile(gateway)],
      ...['-e', join(this.layout.run, `nginx-${gateway}-error.log`)],
    ];
  }

  async validate(topology: Topology): Promise<void> {
    await Promise.all(
      topology.gateway.instances.map(async (g) => {
        const res = await run('nginx', ['-t', ...this.flags(g.name)], { check: false });
        if (res.code !== 0)
          throw new StackError(`nginx -t rejected ${this.configFile(g.name)}`, `${res.stdout}${res.stderr}`.trim());
      }),
    );
  }

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    if (topology.gateway.daemon) {
      throw new StackError(
        'the local stack runs nginx under its supervisor: set gateway.daemon: false in the topology',
      );
    }
    if (topology.gateway.listenAll) {
      throw new StackError(
        'the local stack runs one nginx per gateway address: set gateway.listenAll: false in the topology',
      );
    }
    return topology.gateway.instances.map((g) => ({
      spec: {
        name: gatewayProcessName(g.name),
        group: 'nginx',
        command: 'nginx',
        args: this.flags(g.name),
        cwd: layout.run,
        priority: 400,
        startSecs: 1,
        startRetries: 10,
        // SIGQUIT: finish the requests in flight, then exit.
        stopSignal: 'QUIT',
        stopWaitSecs: 15,
      },
      proc: {
        name: gatewayProcessName(g.name),
        kind: 'nginx',
        host: g.host,
        port: g.port,
        ports: [g.port, ...(tlsPlainPort(topology) ?? [])],
        healthUrl: gatewayHealthUrl(topology, g),
      },
    }));
  }

  async ensure({ topology, progress, supervisor }: StartContext): Promise<void> {
    await supervisor.startGroup('nginx');
    const gateways = topology.gateway.instances;
    await Promise.all(
      gateways.map((g) => {
        const url = gatewayHealthUrl(topology, g);
        return waitUntil(async () => (await httpStatus(url)) === 200, {
          timeoutMs: 30_000,
          what: `${url} to answer 200`,
        });
      }),
    );
    const { https, gateways: urls } = gatewayUrls(topology);
    progress.line(
      'nginx',
      `${gateways.length} gateways up, one nginx each: ${(https.length ? https : urls).join(', ')}`,
    );
  }

  stop(proc: StackProcess): Promise<string> {
    return terminateTree(proc.pid);
  }

  health(proc: StackProcess): Promise<Health> {
    return httpHealth(proc);
  }
}
