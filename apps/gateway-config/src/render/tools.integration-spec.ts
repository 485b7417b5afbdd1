import { appendFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type Topology, type TopologyInput } from '@keyflow/topology';
import { ensureLocalCa, writeEdgePem } from '../cli/local-ca.util';
import { ensureSelfSignedCert } from '../cli/self-signed-cert.util';
import { runCommand } from '../testing/processes.util';
import { loopbackHosts, resolverHosts, runSandboxed } from '../testing/sandbox.util';
import { tempDirs } from '../testing/temp-dir.util';
import {
  EDGE_CFG_FILE,
  edgeKeepalivedFile,
  HAPROXY_CFG_FILE,
  keepalivedFile,
  NAMED_CONF_FILE,
  NGINX_CONF_FILE,
  PROMETHEUS_FILE,
  RUN_FILES,
  zoneFile,
} from './render.constant';
import { renderAll } from './render.service';
import { writeRenderedFiles } from './render-writer.util';

/**
 * Every rendered file passes its own tool: nginx -t, haproxy -c, named-checkconf, named-checkzone,
 * promtool check config and keepalived -t. A missing tool fails the test (runCommand rejects), it never skips.
 */

const TOPOLOGIES_DIR = join(__dirname, '../../../../deploy/topologies');
const { tempDir, removeAll } = tempDirs('gateway-config');

afterAll(removeAll);

/**
 * The topology as the tools should see it here: an operator's certificate files (`tls.mode: files`) do not exist on
 * this machine, so a throwaway self-signed pair stands in for them at a temporary path. (The edge then checks the
 * gateways against the system's CAs, which do not vouch for it: haproxy -c does not connect, so that is fine here.)
 */
function withUsableCertificates(t: Topology, dir: string): Topology {
  if (t.gateway.tls.mode !== 'files') return t;
  const { certFile, keyFile } = ensureSelfSignedCert(t, join(dir, 'operator-tls'));
  // The edge's HAProxy serves the operator's certificate from certFile, which must then hold the key too.
  if (t.edge) appendFileSync(certFile, readFileSync(keyFile));
  return parseTopology({ ...t, gateway: { ...t.gateway, tls: { ...t.gateway.tls, certFile, keyFile } } });
}

interface Rendered {
  topology: Topology;
  dir: string;
  outDir: string;
  runDir: string;
  files: string[];
}

function render(original: Topology, prefix: string): Rendered {
  const dir = tempDir(prefix);
  const topology = withUsableCertificates(original, dir);
  const outDir = join(dir, 'conf');
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o755 });
  const files = renderAll(topology, { outDir, runDir });
  writeRenderedFiles(files, outDir);
  if (topology.gateway.tls.mode === 'self-signed') ensureSelfSignedCert(topology, outDir);
  if (topology.gateway.tls.mode === 'local-ca') ensureLocalCa(topology, outDir);
  if (topology.edge && topology.gateway.tls.mode !== 'files') writeEdgePem(outDir);
  return { topology, dir, outDir, runDir, files: files.map((f) => f.file) };
}

/** Describes the tool checks for one topology; which checks apply follows from what the topology renders. */
function describeToolChecks(label: string, load: () => Topology): void {
  const topology = load();
  describe(label, () => {
    let rendered: Rendered | undefined;
    // Only the checks that apply are defined (no named.conf without dns): nothing is reported as skipped.
    // Short temp dir names: HAProxy refuses a stats socket path over 97 characters.
    const get = (): Rendered => (rendered ??= render(load(), topology.name));

    it('should render the files the topology asks for', () => {
      const { files } = get();
      expect(files.slice(0, 2)).toEqual([NGINX_CONF_FILE, HAPROXY_CFG_FILE]);
      expect(files.includes(NAMED_CONF_FILE)).toBe(topology.dns !== undefined);
      expect(files.includes(PROMETHEUS_FILE)).toBe(topology.monitoring?.prometheus !== undefined);
      expect(files.filter((f) => f.startsWith('keepalived-'))).toHaveLength(
        (topology.haproxy.redundancy?.peers.length ?? 0) + (topology.edge?.redundancy.peers.length ?? 0),
      );
      expect(files.includes(EDGE_CFG_FILE)).toBe(topology.edge !== undefined);
    });

    it('should pass nginx -t (in a private network namespace, Compose names resolving to loopback)', async () => {
      const { outDir, runDir, dir } = get();
      const args = ['-p', runDir, '-c', join(outDir, NGINX_CONF_FILE), '-e', join(runDir, RUN_FILES.nginxErrorLog)];
      // Each gateway also listens on its address on the edge's bridge, which the stack creates.
      const addresses = topology.edge?.network?.gatewayAddresses ?? [];
      const nginx = await runSandboxed('nginx', ['-t', ...args], { dir, hosts: loopbackHosts(topology), addresses });
      expect(nginx.stderr).toContain('test is successful');
      expect(nginx.code).toBe(0);
    });

    it('should pass haproxy -c without warnings', async () => {
      const { outDir, dir } = get();
      const haproxy = await runSandboxed('haproxy', ['-c', '-f', join(outDir, HAPROXY_CFG_FILE)], {
        dir,
        hosts: loopbackHosts(topology),
        // The stats login comes from the environment (a secret); without it HAProxy refuses the config.
        env: { HAPROXY_STATS_USER: 'stats', HAPROXY_STATS_PASSWORD: 'tools-spec-secret' },
      });
      expect(haproxy.stderr).not.toMatch(/WARNING|ALERT/);
      expect(haproxy).toMatchObject({ code: 0 });
    });

    if (topology.gateway.resolver !== undefined)
      it('should pass nginx -t while the API name does not resolve yet (found at run time)', async () => {
        const { outDir, runDir, dir } = get();
        const args = ['-p', runDir, '-c', join(outDir, NGINX_CONF_FILE), '-e', join(runDir, RUN_FILES.nginxErrorLog)];
        const nginx = await runSandboxed('nginx', ['-t', ...args], { dir, hosts: resolverHosts(topology) });
        expect(nginx.stderr).toContain('test is successful');
        expect(nginx.code).toBe(0);
      });

    if (topology.haproxy.resolvers !== undefined)
      it('should pass haproxy -c while no server name resolves yet (servers wait for DNS instead of failing start)', async () => {
        const { outDir, dir } = get();
        // No hosts entries and no reachable DNS server in the sandbox: every Compose or Kubernetes name is unknown.
        const haproxy = await runSandboxed('haproxy', ['-c', '-f', join(outDir, HAPROXY_CFG_FILE)], {
          dir,
          env: { HAPROXY_STATS_USER: 'stats', HAPROXY_STATS_PASSWORD: 'tools-spec-secret' },
        });
        expect(haproxy.stderr).not.toMatch(/ALERT/);
        expect(haproxy.stderr).toMatch(/could not resolve address/);
        expect(haproxy).toMatchObject({ code: 0 });
      });

    if (topology.dns !== undefined)
      it('should pass named-checkconf and named-checkzone', async () => {
        const { outDir } = get();
        const zone = topology.dns?.zone ?? '';
        const conf = await runCommand('named-checkconf', ['-z', join(outDir, NAMED_CONF_FILE)]);
        expect(conf).toMatchObject({ code: 0 });
        const checkZone = await runCommand('named-checkzone', [zone, join(outDir, zoneFile(zone))]);
        expect(checkZone.stdout).toContain(`zone ${zone}/IN: loaded serial`);
        expect(checkZone.code).toBe(0);
      });

    if (topology.monitoring?.prometheus !== undefined)
      it('should pass promtool check config', async () => {
        const promtool = await runCommand('promtool', ['check', 'config', join(get().outDir, PROMETHEUS_FILE)]);
        expect(promtool.stdout).toContain('SUCCESS');
        expect(promtool.code).toBe(0);
      });

    if (topology.edge !== undefined)
      it('should pass haproxy -c for the edge pair and keepalived -t for each edge peer', async () => {
        const { outDir, dir } = get();
        const haproxy = await runSandboxed('haproxy', ['-c', '-f', join(outDir, EDGE_CFG_FILE)], {
          dir,
          env: { HAPROXY_STATS_USER: 'stats', HAPROXY_STATS_PASSWORD: 'tools-spec-secret' },
        });
        expect(haproxy.stderr).not.toMatch(/WARNING|ALERT/);
        expect(haproxy).toMatchObject({ code: 0 });
        for (const peer of topology.edge?.redundancy.peers ?? []) {
          const keepalived = await runSandboxed(
            'keepalived',
            ['-t', '-f', join(outDir, edgeKeepalivedFile(peer.name))],
            { dir, interfaces: [topology.edge?.redundancy.interface ?? ''] },
          );
          expect({ peer: peer.name, ...keepalived }).toMatchObject({ peer: peer.name, code: 0, stderr: '' });
        }
      });

    if (topology.haproxy.redundancy !== undefined)
      it('should pass keepalived -t for every peer', async () => {
        for (const peer of topology.haproxy.redundancy?.peers ?? []) {
          // keepalived -t exits 0 for a missing file and reports problems on stderr: require silence too.
          const { outDir, dir } = get();
          const keepalived = await runSandboxed('keepalived', ['-t', '-f', join(outDir, keepalivedFile(peer.name))], {
            dir,
            interfaces: [topology.haproxy.redundancy?.interface ?? ''],
          });
          expect({ peer: peer.name, ...keepalived }).toMatchObject({ peer: peer.name, code: 0, stderr: '' });
        }
      });
  });
}

/** local.yaml with every optional renderer switched on, on loopback: checks the postgres flavour of each file. */
function everything(): Topology {
  const local = loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));
  const input: TopologyInput = {
    ...local,
    name: 'everything',
    gateway: {
      ...local.gateway,
      tls: { mode: 'self-signed', redirectHttpPort: 8081 },
      rateLimit: { requestsPerSecond: 50, burst: 100 },
      instances: [21, 22, 23].map((n) => ({ name: `gateway-${n}`, host: `127.0.0.${n}`, port: 8443 })),
    },
    rabbitmq: {
      ...local.rabbitmq,
      nodes: local.rabbitmq.nodes.map((n, i) => ({ ...n, prometheusPort: 15790 + i })),
    },
    haproxy: {
      ...local.haproxy,
      host: '127.0.0.30',
      redundancy: {
        virtualIp: '127.0.0.30',
        interface: 'kf-vrrp0',
        peers: [
          { name: 'lb-a', address: '127.0.0.31', priority: 200 },
          { name: 'lb-b', address: '127.0.0.32', priority: 100 },
        ],
      },
    },
    healthChecks: { gateway: { maxFails: 3, failTimeout: '7s' }, database: { interval: '500ms' } },
    dns: { zone: 'keyflow.test', name: 'api', server: { host: '127.0.0.1', port: 5353 } },
    monitoring: { prometheus: { host: '127.0.0.1', port: 9090 } },
  };
  return parseTopology(input, 'everything');
}

function cockroachOnLoopback(): Topology {
  const local = loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));
  return parseTopology({
    ...local,
    name: 'crdb',
    database: {
      kind: 'cockroach',
      nodes: [1, 2, 3].map((n) => ({
        name: `crdb-${n}`,
        role: 'node' as const,
        host: '127.0.0.1',
        port: 26256 + n,
        httpPort: 8079 + n,
      })),
    },
    rabbitmq: { ...local.rabbitmq, nodes: local.rabbitmq.nodes.map((n, i) => ({ ...n, prometheusPort: 15790 + i })) },
    monitoring: { prometheus: { host: '127.0.0.1', port: 9090 } },
  });
}

describe(renderAll.name, () => {
  describe('rendered files checked by their own tools', () => {
    const topologies = readdirSync(TOPOLOGIES_DIR).filter((f) => f.endsWith('.yaml'));

    it('should find the topologies to check', () => {
      expect(topologies).toEqual(
        expect.arrayContaining(['local.yaml', 'test.yaml', 'compose.yaml', 'production.yaml']),
      );
    });

    for (const name of topologies) describeToolChecks(name, () => loadTopology(join(TOPOLOGIES_DIR, name)));
    describeToolChecks('local.yaml with TLS, rate limit, DNS, Prometheus and keepalived', everything);
    describeToolChecks('a cockroach variant of local.yaml with Prometheus', cockroachOnLoopback);
  });
});
