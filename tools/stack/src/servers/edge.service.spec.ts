import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSecrets } from '../secrets.util';
import { testTopology } from '../stack.fixture';
import { stackLayout } from '../stack-layout.util';
import { EdgeService } from './edge.service';
import { loadBalancerUrl, peerNamespace } from './edge-names.util';

describe(EdgeService.name, () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  function service(): { edge: EdgeService; layout: ReturnType<typeof stackLayout> } {
    const { topology } = testTopology();
    const dir = mkdtempSync(join(tmpdir(), 'keyflow-edge-spec-'));
    dirs.push(dir);
    const layout = stackLayout('/repo', join(process.cwd(), 'deploy/topologies/test.yaml'), dir);
    ensureSecrets(layout, topology);
    return { edge: new EdgeService(layout), layout };
  }

  it("should run each peer's HAProxy and keepalived inside the peer's own namespace, with pid files of their own", () => {
    const { topology } = testTopology();
    const { edge, layout } = service();
    const programs = edge.prepare({ topology, layout });
    expect(programs.map((p) => [p.spec.name, p.proc.kind, p.proc.namespace])).toEqual([
      ['haproxy-edge-lb-1', 'haproxy-edge', 'kft-lb-1'],
      ['keepalived-lb-1', 'keepalived', 'kft-lb-1'],
      ['haproxy-edge-lb-2', 'haproxy-edge', 'kft-lb-2'],
      ['keepalived-lb-2', 'keepalived', 'kft-lb-2'],
    ]);
    for (const { spec, proc } of programs) {
      expect(spec.command).toBe('ip');
      expect(spec.args.slice(0, 3)).toEqual(['netns', 'exec', proc.namespace]);
      expect(spec.group).toBe('edge');
    }
    const [haproxy, keepalived] = programs;
    expect(haproxy?.spec.args.slice(3)).toEqual(['haproxy', '-db', '-f', join(layout.conf, 'haproxy-edge.cfg')]);
    // The stats login comes from the environment, as for the database's HAProxy.
    expect(Object.keys(haproxy?.spec.env ?? {})).toEqual(
      expect.arrayContaining(['HAPROXY_STATS_USER', 'HAPROXY_STATS_PASSWORD']),
    );
    expect(haproxy?.proc.healthUrl).toBe('http://198.18.78.11:18405/healthz');
    const pidFiles = programs
      .filter((p) => p.proc.kind === 'keepalived')
      .flatMap((p) => p.spec.args.filter((a) => a.endsWith('.pid')));
    expect(new Set(pidFiles).size).toBe(6);
    expect(keepalived?.spec.args).toContain(join(layout.conf, 'keepalived-edge-lb-1.conf'));
  });

  it('should run nothing for a topology without an edge', () => {
    const { topology } = testTopology();
    const { edge: _edge, ...bare } = topology;
    expect(service().edge.prepare({ topology: bare, layout: service().layout })).toEqual([]);
  });

  it('should say why the pair cannot run rather than fail, for a topology that cannot have one here', async () => {
    const { topology } = testTopology();
    const { edge: _edge, ...bare } = topology;
    expect(await EdgeService.ensureNetwork(bare)).toBe('the topology has no edge section');
    const { network: _network, ...hosts } = topology.edge ?? ({} as never);
    expect(await EdgeService.ensureNetwork({ ...topology, edge: hosts })).toBe(
      'edge.network is not set (its peers are real hosts)',
    );
  });

  it('should name namespaces after the prefix and the peer, and the load balancer URL after the virtual IP', () => {
    const { topology } = testTopology();
    const edge = topology.edge;
    if (!edge?.network) throw new Error('test.yaml has an edge with a network');
    expect(peerNamespace(edge.network, 'lb-2')).toBe('kft-lb-2');
    expect(loadBalancerUrl(edge)).toBe('https://198.18.78.10:18443');
    expect(loadBalancerUrl({ ...edge, port: 443 })).toBe('https://198.18.78.10');
  });
});
