import type { Topology } from '@keyflow/topology';

export interface KeepalivedView {
  topologyName: string;
  peer: string;
  state: 'MASTER' | 'BACKUP';
  priority: number;
  interface: string;
  virtualRouterId: number;
  advertInterval: number;
  virtualAddress: string;
  unicastSource: string;
  unicastPeers: string[];
  check: { script: string; interval: number; fall: number; rise: number };
}

/** One keepalived view per HAProxy peer: the highest priority starts as MASTER, the others as BACKUP. */
export function buildKeepalivedViews(t: Topology): KeepalivedView[] {
  const r = t.haproxy.redundancy;
  if (!r) return [];
  const top = Math.max(...r.peers.map((p) => p.priority));
  return r.peers.map((peer) => ({
    topologyName: t.name,
    peer: peer.name,
    state: peer.priority === top ? 'MASTER' : 'BACKUP',
    priority: peer.priority,
    interface: r.interface,
    virtualRouterId: r.virtualRouterId,
    advertInterval: r.advertInterval,
    virtualAddress: `${r.virtualIp}/${r.prefixLength}`,
    unicastSource: peer.address,
    unicastPeers: r.peers.filter((p) => p !== peer).map((p) => p.address),
    check: { script: '/bin/pidof haproxy', ...r.check },
  }));
}
