import { writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { namedServers, type Topology } from '@keyflow/topology';
import { runCommand, type CommandResult } from './processes.util';

const RUNNING_AS_ROOT = process.getuid?.() === 0;

/**
 * Every host name a topology uses that is not an address literal (Compose service names), each mapped to its own
 * loopback address, as Docker's DNS would map them to container addresses.
 */
export function loopbackHosts(t: Topology): Record<string, string> {
  const names = [
    ...[...namedServers(t), ...t.redis.nodes, t.haproxy].map((x) => x.host),
    ...(t.gateway.resolver?.servers ?? []),
  ].filter((h) => isIP(h) === 0 && h !== 'localhost');
  return Object.fromEntries([...new Set(names)].map((name, i) => [name, `127.0.1.${i + 1}`]));
}

/**
 * Runs a command in its own network and mount namespaces, which tests create for themselves: a loopback interface
 * (so a config that listens on 0.0.0.0:443 neither needs the port free on this machine nor exposes anything), the
 * named `interfaces` (veth pairs, for keepalived, which refuses an interface that does not exist), the extra
 * loopback `addresses`, and a private
 * /etc/hosts with `hosts`, so names only Docker would resolve resolve here too.
 * Needs unshare(1) (util-linux) and ip(8) (iproute2); as non-root it maps the caller to root in a user namespace.
 */
export function runSandboxed(
  command: string,
  args: string[],
  options: {
    dir: string;
    hosts?: Record<string, string>;
    interfaces?: string[];
    /** Added to the sandbox's loopback: addresses a config binds that this machine does not have (the edge's bridge). */
    addresses?: string[];
    env?: Record<string, string>;
  },
): Promise<CommandResult> {
  const hostsFile = join(options.dir, 'sandbox-hosts');
  const lines = ['127.0.0.1 localhost', ...Object.entries(options.hosts ?? {}).map(([name, ip]) => `${ip} ${name}`)];
  writeFileSync(hostsFile, `${lines.join('\n')}\n`);
  // The sandbox's DNS server is its own loopback, where nothing answers: names resolve only through the hosts file.
  const resolvFile = join(options.dir, 'sandbox-resolv.conf');
  writeFileSync(resolvFile, 'nameserver 127.0.0.1\n');
  const links = (options.interfaces ?? []).map((name, i) => {
    if (!/^[a-zA-Z0-9._-]{1,15}$/.test(name)) throw new Error(`not an interface name: ${name}`);
    return `ip link add ${name} type veth peer name kfpeer${i}; ip link set ${name} up; `;
  });
  const addresses = (options.addresses ?? []).map((a) => {
    if (isIP(a) !== 4) throw new Error(`not an IPv4 address: ${a}`);
    return `ip addr add ${a}/32 dev lo; `;
  });
  const script = `set -e; ip link set lo up; ${addresses.join('')}${links.join('')}mount --bind "$0" /etc/hosts; mount --bind "${resolvFile}" /etc/resolv.conf; exec "$@"`;
  return runCommand(
    'unshare',
    [
      '--net',
      '--mount',
      ...(RUNNING_AS_ROOT ? [] : ['--map-root-user']),
      'sh',
      '-c',
      script,
      hostsFile,
      command,
      ...args,
    ],
    options.env ? { env: { ...process.env, ...options.env } } : {},
  );
}

/** Only the DNS servers nginx is told to ask at run time (`gateway.resolver`): every other name stays unknown. */
export function resolverHosts(t: Topology): Record<string, string> {
  const names = (t.gateway.resolver?.servers ?? []).filter((h) => isIP(h) === 0);
  return Object.fromEntries(names.map((name, i) => [name, `127.0.2.${i + 1}`]));
}
