import type { StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import { readStackFile } from '../stack-file.util';
import type { StackLayout } from '../stack-layout.util';
import { run, terminate } from '../util/process.util';
import { waitUntil } from '../util/wait.util';

export const NAMED_PROCESS = 'named';

type Dns = NonNullable<Topology['dns']>;

export function dnsFqdn(dns: Pick<Dns, 'name' | 'zone'>): string {
  return `${dns.name}.${dns.zone}`;
}

/** The A/AAAA records `server` (`host:port`) gives for `name`, in the order it gave them. */
export async function resolveGateways(server: string, name: string, timeoutMs = 1_000): Promise<string[]> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([server]);
  return resolver.resolve4(name);
}

/**
 * BIND9 answering for the gateways' name with one record per gateway, rotated on every answer. It runs in the
 * foreground (`-g`) as a detached child, from the `named.conf` and zone `apps/gateway-config` rendered.
 */
export class NamedService implements StackComponent {
  constructor(private readonly layout: StackLayout) {}

  get configFile(): string {
    return join(this.layout.conf, 'named.conf');
  }

  async validate(): Promise<void> {
    const res = await run('named-checkconf', ['-z', this.configFile], { check: false });
    if (res.code !== 0)
      throw new StackError(`named-checkconf rejected ${this.configFile}`, `${res.stdout}${res.stderr}`.trim());
  }

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const dns = topology.dns;
    if (!dns) return [];
    return [
      {
        spec: {
          name: NAMED_PROCESS,
          group: NAMED_PROCESS,
          command: 'named',
          args: ['-c', this.configFile, '-g'],
          cwd: layout.run,
          priority: 400,
          startSecs: 1,
          startRetries: 10,
          stopWaitSecs: 10,
        },
        proc: { name: NAMED_PROCESS, kind: 'named', host: dns.server.host, port: dns.server.port },
      },
    ];
  }

  async ensure({ topology, progress, supervisor }: StartContext): Promise<void> {
    const dns = topology.dns;
    if (!dns) return;
    const server = `${dns.server.host}:${dns.server.port}`;
    await supervisor.startGroup(NAMED_PROCESS);
    const expected = topology.gateway.instances.length;
    let answer: string[] = [];
    await waitUntil(
      async () => {
        answer = await resolveGateways(server, dnsFqdn(dns)).catch(() => []);
        return answer.length === expected;
      },
      {
        timeoutMs: 20_000,
        intervalMs: 200,
        what: `named on ${server} to answer ${dnsFqdn(dns)} with ${expected} records`,
      },
    );
    progress.line('named', `${dnsFqdn(dns)} → ${answer.join(', ')} (round robin, server ${server})`);
  }

  stop(proc: StackProcess): Promise<string> {
    return terminate(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    const name = readStackFile(this.layout.stackFile)?.dns?.name;
    if (!name || !proc.host || !proc.port) return { healthy: false, detail: `no dns name in ${this.layout.stackFile}` };
    const answer = await resolveGateways(`${proc.host}:${proc.port}`, name).catch((err: Error) => err);
    if (answer instanceof Error) return { healthy: false, detail: `${name}: ${answer.message}` };
    return { healthy: answer.length > 0, detail: `${name} → ${answer.join(', ')}` };
  }
}
