import { join } from 'node:path';
import type { EdgeAlgorithm, Topology } from '@keyflow/topology';
import { EDGE_CFG_FILE, EDGE_PEM_FILE, LOCAL_CA_TLS } from '../render.constant';
import { tlsFiles } from './nginx.view-model';
import { hostPort, type NamedAddress, type RenderPaths } from './view-model.util';

export interface EdgeView {
  topologyName: string;
  confFile: string;
  virtualIp: string;
  peers: string[];
  /** Every address of the peer's own: the virtual IP arrives and leaves with keepalived. */
  httpsBind: string;
  httpBind: string | null;
  /** `:<port>` in the redirect to HTTPS, empty for 443 (the host the client asked for keeps its name). */
  httpsPortSuffix: string;
  statsBind: string;
  /** Certificate and key in one PEM file (HAProxy's `crt`). */
  pemFile: string;
  /** The certificate authority the gateways' certificate is checked against, and the name it must carry. */
  caFile: string;
  verifyHost: string;
  balance: string;
  /** `cookie`: HAProxy names the gateway in a cookie, and sends the client back to it while it is up. */
  stickyCookie: string | null;
  /** `check inter … fall … rise …` plus TLS to the gateway. */
  serverOptions: string;
  gateways: Array<NamedAddress & { cookie: string | null }>;
  plainPaths: string[];
}

const BALANCE: Record<EdgeAlgorithm, string> = {
  roundrobin: 'roundrobin',
  leastconn: 'leastconn',
  source: 'source',
  cookie: 'roundrobin',
};

/** The cookie that pins a client to a gateway with `edge.algorithm: cookie`. */
export const EDGE_STICKY_COOKIE = 'keyflow_gw';

function requireEdge(t: Topology): NonNullable<Topology['edge']> {
  if (!t.edge) throw new Error(`topology "${t.name}" has no edge section`);
  return t.edge;
}

/** Where an edge peer reaches each gateway: its address on the stack's bridge, else the gateway's own host. */
export function edgeGatewayAddresses(t: Topology): NamedAddress[] {
  const edge = requireEdge(t);
  return t.gateway.instances.map((g, i) => ({
    name: g.name,
    address: hostPort(edge.network?.gatewayAddresses[i] ?? g.host, g.port),
  }));
}

export function buildEdgeView(t: Topology, { outDir }: RenderPaths): EdgeView {
  const edge = requireEdge(t);
  const tls = tlsFiles(t, outDir);
  if (!tls)
    throw new Error("edge: the HAProxy pair terminates TLS with the gateways' certificate: set gateway.tls.mode");
  const check = edge.healthCheck;
  const verifyHost = t.dns ? `${t.dns.name}.${t.dns.zone}` : 'localhost';
  // The gateways' certificate is checked against: the stack's CA, the self-signed certificate itself, or (an
  // operator's certificate) the system's trusted CAs.
  const caFile =
    t.gateway.tls.mode === 'local-ca'
      ? join(outDir, LOCAL_CA_TLS.ca)
      : t.gateway.tls.mode === 'self-signed'
        ? tls.certFile
        : '@system-ca';
  const sticky = edge.algorithm === 'cookie';
  return {
    topologyName: t.name,
    confFile: join(outDir, EDGE_CFG_FILE),
    virtualIp: edge.redundancy.virtualIp,
    peers: edge.redundancy.peers.map((p) => `${p.name} (${p.address})`),
    httpsBind: `*:${edge.port}`,
    httpBind: edge.httpPort === undefined ? null : `*:${edge.httpPort}`,
    httpsPortSuffix: edge.port === 443 ? '' : `:${edge.port}`,
    statsBind: `*:${edge.statsPort}`,
    // An operator's certificate (`files`) must hold its key too; the CLI writes edge.pem for the generated ones.
    pemFile: t.gateway.tls.mode === 'files' ? tls.certFile : join(outDir, EDGE_PEM_FILE),
    caFile,
    verifyHost,
    balance: BALANCE[edge.algorithm],
    stickyCookie: sticky ? EDGE_STICKY_COOKIE : null,
    serverOptions: [
      `check inter ${check.interval} fall ${check.fall} rise ${check.rise}`,
      `ssl verify required ca-file ${caFile} verifyhost ${verifyHost}`,
      'alpn http/1.1',
    ].join(' '),
    gateways: edgeGatewayAddresses(t).map((g) => ({ ...g, cookie: sticky ? g.name : null })),
    plainPaths: ['/health/', '/store'],
  };
}
