import type { Topology } from '@keyflow/topology';

export interface KeepalivedView {
  topologyName: string;
  peer: string;
  /** What the pair fronts, for the header comment: `HAProxy` (database, AMQP) or `the edge HAProxy` (HTTP). */
  role: string;
  instanceName: string;
  state: 'MASTER' | 'BACKUP';
  priority: number;
  interface: string;
  virtualRouterId: number;
  advertInterval: number;
  virtualAddress: string;
  unicastSource: string;
  unicastPeers: string[];
  check: { script: string; interval: number; fall: number; rise: number };
  /** HAProxy binds the virtual IP itself (ip_nonlocal_bind), rather than every address of the peer. */
  nonlocalBind: boolean;
  /**
   * false: `nopreempt` — whoever holds the address keeps it while its HAProxy runs, so a peer's return moves
   * nothing; every peer starts as BACKUP and the highest priority is elected at start.
   */
  preempt: boolean;
}

type Redundancy = NonNullable<Topology['haproxy']['redundancy']>;

/** One view per peer: the highest priority starts as MASTER, the others as BACKUP. */
function peerViews(
  t: Topology,
  r: Redundancy,
  common: Pick<KeepalivedView, 'role' | 'instanceName' | 'nonlocalBind' | 'preempt'> & { script: string },
): KeepalivedView[] {
  const top = Math.max(...r.peers.map((p) => p.priority));
  return r.peers.map((peer) => ({
    topologyName: t.name,
    peer: peer.name,
    role: common.role,
    instanceName: common.instanceName,
    nonlocalBind: common.nonlocalBind,
    preempt: common.preempt,
    state: common.preempt && peer.priority === top ? 'MASTER' : 'BACKUP',
    priority: peer.priority,
    interface: r.interface,
    virtualRouterId: r.virtualRouterId,
    advertInterval: r.advertInterval,
    virtualAddress: `${r.virtualIp}/${r.prefixLength}`,
    unicastSource: peer.address,
    unicastPeers: r.peers.filter((p) => p !== peer).map((p) => p.address),
    check: { script: common.script, ...r.check },
  }));
}

/** The HAProxy pair in front of the database and RabbitMQ (`haproxy.redundancy`). */
export function buildKeepalivedViews(t: Topology): KeepalivedView[] {
  const r = t.haproxy.redundancy;
  if (!r) return [];
  return peerViews(t, r, {
    role: 'HAProxy',
    instanceName: 'keyflow_haproxy',
    nonlocalBind: true,
    preempt: true,
    script: '/bin/pidof haproxy',
  });
}

/**
 * The edge pair (`edge.redundancy`). The check connects to the peer's own HAProxy on its loopback (its stats port):
 * `pidof` would also see the other peer's HAProxy when both run on one host in network namespaces.
 */
export function buildEdgeKeepalivedViews(t: Topology): KeepalivedView[] {
  const edge = t.edge;
  if (!edge) return [];
  return peerViews(t, edge.redundancy, {
    role: 'the edge HAProxy',
    instanceName: 'keyflow_edge',
    nonlocalBind: false,
    // Clients' requests in flight on the holder are cut when the address moves: move it only when it must.
    preempt: false,
    script: `/bin/bash -c '</dev/tcp/127.0.0.1/${edge.statsPort}'`,
  });
}
