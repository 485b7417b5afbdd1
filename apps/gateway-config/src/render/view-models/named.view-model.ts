import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Topology } from '@keyflow/topology';
import { NAMED_CONF_FILE, RUN_FILES, zoneFile } from '../render.constant';
import type { RenderPaths } from './view-model.util';

export interface NamedConfView {
  topologyName: string;
  confFile: string;
  directory: string;
  pidFile: string;
  sessionKeyFile: string;
  /** `listen-on` or `listen-on-v6`, with the other family switched off. */
  listenOn: string;
  listenOff: string;
  zone: string;
  zoneFile: string;
}

export interface ZoneView {
  topologyName: string;
  origin: string;
  ttl: number;
  serial: number;
  nameServer: { label: string; fqdn: string; type: 'A' | 'AAAA'; address: string };
  hostmaster: string;
  /** One record per distinct gateway address: resolvers hand them out in rotation (rrset-order cyclic). */
  records: Array<{ label: string; type: 'A' | 'AAAA'; address: string }>;
  /** `<dns.loadBalancerName>` → the virtual IP of the edge pair (or of the HAProxy pair), when both are set. */
  loadBalancer: { label: string; type: 'A' | 'AAAA'; address: string } | null;
}

/** The address a topology's load-balancer name points at: the edge pair's virtual IP, else the HAProxy pair's. */
export function loadBalancerAddress(t: Topology): string | undefined {
  return t.edge?.redundancy.virtualIp ?? t.haproxy.redundancy?.virtualIp;
}

function addressType(address: string): 'A' | 'AAAA' {
  return isIP(address) === 6 ? 'AAAA' : 'A';
}

/** The name server record's label inside the zone; the loader refuses a dns.name that collides with it. */
const NAME_SERVER_LABEL = 'ns1';

function requireDns(t: Topology): NonNullable<Topology['dns']> {
  if (!t.dns) throw new Error(`topology "${t.name}" has no dns section`);
  return t.dns;
}

export function buildNamedConfView(t: Topology, { runDir, outDir }: RenderPaths): NamedConfView {
  const dns = requireDns(t);
  const v6 = isIP(dns.server.host) === 6;
  const listen = `port ${dns.server.port} { ${dns.server.host}; }`;
  return {
    topologyName: t.name,
    confFile: join(outDir, NAMED_CONF_FILE),
    directory: runDir,
    pidFile: join(runDir, RUN_FILES.namedPid),
    sessionKeyFile: join(runDir, RUN_FILES.namedSessionKey),
    listenOn: v6 ? `listen-on-v6 ${listen}` : `listen-on ${listen}`,
    listenOff: v6 ? 'listen-on { none; }' : 'listen-on-v6 { none; }',
    zone: dns.zone,
    zoneFile: join(outDir, zoneFile(dns.zone)),
  };
}

export function buildZoneView(t: Topology): ZoneView {
  const dns = requireDns(t);
  const addresses = [...new Set(t.gateway.instances.map((g) => g.host))];
  const lbAddress = loadBalancerAddress(t);
  return {
    topologyName: t.name,
    origin: `${dns.zone}.`,
    ttl: dns.ttl,
    serial: dns.serial,
    nameServer: {
      label: NAME_SERVER_LABEL,
      fqdn: `${NAME_SERVER_LABEL}.${dns.zone}.`,
      type: addressType(dns.server.host),
      address: dns.server.host,
    },
    hostmaster: `hostmaster.${dns.zone}.`,
    records: addresses.map((address) => ({ label: dns.name, type: addressType(address), address })),
    loadBalancer:
      dns.loadBalancerName && lbAddress
        ? { label: dns.loadBalancerName, type: addressType(lbAddress), address: lbAddress }
        : null,
  };
}
