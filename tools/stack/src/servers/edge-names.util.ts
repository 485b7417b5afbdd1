import type { Topology } from '@keyflow/topology';

// The edge pair's names, shared by the stack's edge component and stack.json.

type Edge = NonNullable<Topology['edge']>;

/** The network namespace an edge peer runs in: `kft-lb-1`. Its veth's host end has the same name. */
export function peerNamespace(network: Pick<NonNullable<Edge['network']>, 'namespacePrefix'>, peer: string): string {
  return `${network.namespacePrefix}-${peer}`;
}

/** The supervisor's (and stack.json's) names of one peer's two programs. */
export function edgeProcessNames(peer: string): { haproxy: string; keepalived: string } {
  return { haproxy: `haproxy-edge-${peer}`, keepalived: `keepalived-${peer}` };
}

/** `https://<virtual IP>:<port>`: where clients reach whichever edge peer holds the address. */
export function loadBalancerUrl(edge: Pick<Edge, 'port' | 'redundancy'>): string {
  return `https://${edge.redundancy.virtualIp}${edge.port === 443 ? '' : `:${edge.port}`}`;
}
