import { isAlive, type StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { requireSecrets } from '../secrets.util';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import { StackError } from '../stack.exception';
import { caFile, inheritedEnv } from '../stack-file.util';
import type { StackLayout } from '../stack-layout.util';
import { isRoot, run, terminate } from '../util/process.util';
import { httpHealth, waitUntil } from '../util/wait.util';
import { edgeProcessNames, loadBalancerUrl, peerNamespace } from './edge-names.util';

export const EDGE_GROUP = 'edge';

type Edge = NonNullable<Topology['edge']>;
type EdgeNetwork = NonNullable<Edge['network']>;
type EdgePeer = Edge['redundancy']['peers'][number];

function requireNetwork(edge: Edge): EdgeNetwork {
  if (!edge.network) {
    throw new StackError(
      'the local stack runs the edge pair in network namespaces: set edge.network in the topology',
      undefined,
      'without edge.network the peers are real hosts (deploy keepalived-edge-<peer>.conf and haproxy-edge.cfg there)',
    );
  }
  return edge.network;
}

async function ip(args: string[]): Promise<string> {
  return (await run('ip', args, { timeoutMs: 10_000 })).stdout;
}

/** The names `ip netns list` prints (`kft-lb-1 (id: 3)` → `kft-lb-1`). */
async function namespaces(): Promise<Set<string>> {
  const out = await ip(['netns', 'list']);
  return new Set(
    out
      .split('\n')
      .map((l) => l.split(' ')[0] ?? '')
      .filter(Boolean),
  );
}

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name], { check: false })).code === 0;
}

/** The IPv4 addresses (`a.b.c.d/len`) in a namespace, with whether each is secondary (the virtual IP is). */
async function namespaceAddresses(namespace: string): Promise<Array<{ address: string; secondary: boolean }>> {
  const res = await run('ip', ['-n', namespace, '-4', '-o', 'addr', 'show'], { check: false });
  return [...res.stdout.matchAll(/inet (\S+) (.*)/g)].map((m) => ({
    address: m[1] ?? '',
    secondary: (m[2] ?? '').includes('secondary'),
  }));
}

/** The peer whose namespace holds the virtual IP right now, if any. */
export async function virtualIpHolder(edge: Edge): Promise<string | undefined> {
  const network = requireNetwork(edge);
  for (const peer of edge.redundancy.peers) {
    const addresses = await namespaceAddresses(peerNamespace(network, peer.name));
    if (addresses.some((a) => a.address.startsWith(`${edge.redundancy.virtualIp}/`))) return peer.name;
  }
  return undefined;
}

/** The HTTP status of a GET over HTTPS, trusting `ca`; undefined when nothing answers. */
export function httpsStatus(url: string, ca: string, timeoutMs = 2_000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { ca, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
}

/**
 * The edge: two HAProxy peers in HTTP mode in front of the gateways, each with its keepalived, each in a network
 * namespace of the stack's own (`<prefix>-<peer>`) whose `eth0` is a veth linked to the stack's bridge. keepalived
 * (unicast VRRP over the bridge) puts the virtual IP on the `eth0` of the peer whose HAProxy runs, with the highest
 * priority; the host reaches it through its own address on the bridge. Each gateway also listens on its address on
 * the bridge, where the peers reach it. Creating namespaces needs root (CAP_NET_ADMIN): without it the stack runs
 * without the pair and says so.
 */
export class EdgeService implements StackComponent {
  constructor(private readonly layout: StackLayout) {}

  private configFile(): string {
    return join(this.layout.conf, 'haproxy-edge.cfg');
  }

  private keepalivedConfig(peer: string): string {
    return join(this.layout.conf, `keepalived-edge-${peer}.conf`);
  }

  /** haproxy-edge.cfg reads the stats page's login from these, as haproxy.cfg does. */
  private statsEnv(): Record<string, string> {
    const { username, password } = requireSecrets(this.layout).haproxyStats;
    return { HAPROXY_STATS_USER: username, HAPROXY_STATS_PASSWORD: password };
  }

  /**
   * Creates whatever of the edge's network is missing: the bridge with the host's and the gateways' addresses, one
   * namespace per peer with its veth on the bridge and its address, loopback up. Idempotent. Resolves with why the
   * network cannot be made (no root, no namespaces in this sandbox), or undefined when it is there.
   */
  static async ensureNetwork(topology: Topology): Promise<string | undefined> {
    const edge = topology.edge;
    if (!edge) return 'the topology has no edge section';
    if (!edge.network) return 'edge.network is not set (its peers are real hosts)';
    if (!isRoot()) return 'creating network namespaces needs root';
    const { bridge, hostAddress, gatewayAddresses } = edge.network;
    const prefix = edge.redundancy.prefixLength;
    try {
      if (!(await linkExists(bridge))) await ip(['link', 'add', bridge, 'type', 'bridge']);
      for (const address of [hostAddress, ...gatewayAddresses]) {
        await ip(['addr', 'replace', `${address}/${prefix}`, 'dev', bridge]);
      }
      await ip(['link', 'set', bridge, 'up']);
      const existing = await namespaces();
      for (const peer of edge.redundancy.peers) {
        const ns = peerNamespace(edge.network, peer.name);
        if (!existing.has(ns)) await ip(['netns', 'add', ns]);
        const inside = edge.redundancy.interface;
        const linked = (await run('ip', ['-n', ns, 'link', 'show', 'dev', inside], { check: false })).code === 0;
        if (!linked) {
          // A host end without its peer in this namespace belongs to an earlier namespace of the same name (one
          // deleted while a process still held it): replace the pair.
          if (await linkExists(ns)) await ip(['link', 'delete', ns]);
          await ip(['link', 'add', ns, 'type', 'veth', 'peer', 'name', inside, 'netns', ns]);
        }
        await ip(['link', 'set', ns, 'master', bridge, 'up']);
        await ip(['-n', ns, 'addr', 'replace', `${peer.address}/${prefix}`, 'dev', inside]);
        await ip(['-n', ns, 'link', 'set', inside, 'up']);
        await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      return undefined;
    } catch (err) {
      const e = err as StackError;
      return `${e.message}${e.detail ? `: ${e.detail.split('\n')[0]}` : ''}`;
    }
  }

  /** Deletes the peers' namespaces (and with them their veths) and the bridge; what is missing is skipped. */
  static async removeNetwork(topology: Topology): Promise<string[]> {
    const network = topology.edge?.network;
    if (!network || !isRoot()) return [];
    const removed: string[] = [];
    const existing = await namespaces().catch(() => new Set<string>());
    for (const peer of topology.edge?.redundancy.peers ?? []) {
      const ns = peerNamespace(network, peer.name);
      if (existing.has(ns)) {
        await run('ip', ['netns', 'delete', ns], { check: false });
        removed.push(`namespace ${ns}`);
      }
      // Gone with the namespace, unless a process still holds that namespace: then the veth goes by hand.
      if (await linkExists(ns)) await run('ip', ['link', 'delete', ns], { check: false });
    }
    if (await linkExists(network.bridge)) {
      await run('ip', ['link', 'delete', network.bridge], { check: false });
      removed.push(`bridge ${network.bridge}`);
    }
    return removed;
  }

  async validate(topology: Topology): Promise<void> {
    const edge = topology.edge;
    if (!edge) return;
    const checks: Array<[string, string[], NodeJS.ProcessEnv]> = [
      ['haproxy', ['-c', '-f', this.configFile()], { ...process.env, ...this.statsEnv() }],
      ...edge.redundancy.peers.map((p): [string, string[], NodeJS.ProcessEnv] => [
        'keepalived',
        ['-t', '-f', this.keepalivedConfig(p.name)],
        process.env,
      ]),
    ];
    for (const [command, args, env] of checks) {
      const res = await run(command, args, { check: false, env });
      if (res.code !== 0) {
        throw new StackError(`${command} ${args.join(' ')} rejected its config`, `${res.stdout}${res.stderr}`.trim());
      }
    }
  }

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const edge = topology.edge;
    if (!edge) return [];
    const network = requireNetwork(edge);
    return edge.redundancy.peers.flatMap((peer) => this.peerPrograms(edge, network, peer, layout));
  }

  private peerPrograms(edge: Edge, network: EdgeNetwork, peer: EdgePeer, layout: StackLayout): SupervisedProcess[] {
    const ns = peerNamespace(network, peer.name);
    const names = edgeProcessNames(peer.name);
    const inNamespace = ['netns', 'exec', ns];
    const pidFile = (what: string): string => join(layout.run, `keepalived-${peer.name}${what}.pid`);
    return [
      {
        spec: {
          name: names.haproxy,
          group: EDGE_GROUP,
          // -db: in the foreground, under the supervisor. `ip netns exec` execs HAProxy itself: the pid is HAProxy's.
          command: 'ip',
          args: [...inNamespace, 'haproxy', '-db', '-f', this.configFile()],
          env: { ...inheritedEnv(), ...this.statsEnv() },
          cwd: layout.run,
          priority: 450,
          startSecs: 1,
          startRetries: 10,
          stopWaitSecs: 10,
        },
        proc: {
          name: names.haproxy,
          kind: 'haproxy-edge',
          host: peer.address,
          port: edge.statsPort,
          ports: [edge.port, ...(edge.httpPort ? [edge.httpPort] : []), edge.statsPort],
          healthUrl: `http://${peer.address}:${edge.statsPort}/healthz`,
          namespace: ns,
        },
      },
      {
        spec: {
          name: names.keepalived,
          group: EDGE_GROUP,
          // VRRP only (-P), in the foreground (-n), logging to its output (-l -D); pid files of its own, as two
          // keepalived run on this host.
          command: 'ip',
          args: [
            ...inNamespace,
            ...['keepalived', '-P', '-n', '-l', '-D', '-f', this.keepalivedConfig(peer.name)],
            ...['-p', pidFile(''), '-r', pidFile('-vrrp'), '-c', pidFile('-checkers')],
          ],
          env: inheritedEnv(),
          cwd: layout.run,
          priority: 460,
          startSecs: 1,
          startRetries: 10,
          // On TERM keepalived gives the virtual IP up and tells the other peer at once.
          stopWaitSecs: 10,
        },
        proc: { name: names.keepalived, kind: 'keepalived', host: peer.address, namespace: ns },
      },
    ];
  }

  async ensure({ topology, progress, supervisor, layout }: StartContext): Promise<void> {
    const edge = topology.edge;
    if (!edge) return;
    await supervisor.startGroup(EDGE_GROUP);
    const url = `${loadBalancerUrl(edge)}/health/ready`;
    const ca = readFileSync(caFile(layout), 'utf8');
    await waitUntil(async () => (await httpsStatus(url, ca)) === 200, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `the edge pair's virtual IP to answer ${url} with 200`,
    });
    const holder = await virtualIpHolder(edge);
    const name = topology.dns?.loadBalancerName ? ` (${topology.dns.loadBalancerName}.${topology.dns.zone})` : '';
    progress.line(
      EDGE_GROUP,
      `${loadBalancerUrl(edge)}${name} → HAProxy pair ${edge.redundancy.peers.map((p) => p.name).join(', ')} over ${topology.gateway.instances.length} gateways; ${holder ?? 'no peer'} holds ${edge.redundancy.virtualIp}`,
    );
  }

  stop(proc: StackProcess): Promise<string> {
    return terminate(proc.pid);
  }

  async health(proc: StackProcess): Promise<Health> {
    if (proc.kind === 'haproxy-edge') {
      const health = await httpHealth(proc);
      return { ...health, detail: `${health.detail} in ${proc.namespace ?? '?'}` };
    }
    if (!isAlive(proc.pid)) return { healthy: false, detail: 'not running' };
    const vip = proc.namespace ? (await namespaceAddresses(proc.namespace)).find((a) => a.secondary) : undefined;
    return { healthy: true, detail: vip ? `holds the virtual IP (${vip.address})` : 'standby' };
  }
}
