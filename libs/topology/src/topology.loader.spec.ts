import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, TopologyError } from './topology.loader';
import type { Topology, TopologyInput } from './topology.schema';

const TOPOLOGIES_DIR = join(__dirname, '../../../deploy/topologies');
const local = (): Topology => loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));

/** The problems parseTopology reports for local.yaml with some parts replaced. */
function problemsOf(patch: (t: TopologyInput) => unknown): string[] {
  try {
    parseTopology(patch(structuredClone(local())));
  } catch (err) {
    if (err instanceof TopologyError) return err.problems;
    throw err;
  }
  return [];
}

describe(parseTopology.name, () => {
  describe('defaults', () => {
    it('should give a topology without the optional sections working defaults', () => {
      const { dns: _dns, auth: _auth, monitoring: _monitoring, edge: _edge, ...bare } = local();
      const { daemon: _daemon, tls: _tls, ...gateway } = bare.gateway;
      const t = parseTopology({ ...bare, gateway });
      expect(t.gateway).toMatchObject({ listenAll: false, daemon: true, tls: { mode: 'off', plainHttp: 'redirect' } });
      expect(t.gateway.rateLimit).toBeUndefined();
      expect(t.healthChecks).toEqual({
        gateway: { maxFails: 2, failTimeout: '5s' },
        database: { fall: 3, rise: 1 },
        amqp: { interval: '2s', fall: 2, rise: 1 },
      });
      expect(t.auth).toEqual({ readsRequireAuth: true });
      expect(t.haproxy).toMatchObject({ listenAll: false });
      expect([t.dns, t.monitoring, t.haproxy.redundancy, t.haproxy.resolvers]).toEqual([
        undefined,
        undefined,
        undefined,
        undefined,
      ]);
    });

    it('should fill in the defaults of the optional sections it is given', () => {
      const t = parseTopology({
        ...local(),
        gateway: { ...local().gateway, rateLimit: { requestsPerSecond: 10 } },
        // local.yaml's monitoring replaced by the least one can ask for.
        rabbitmq: {
          ...local().rabbitmq,
          nodes: local().rabbitmq.nodes.map((n, i) => ({ ...n, prometheusPort: 15790 + i })),
        },
        dns: { zone: 'keyflow.test', name: 'api', server: { host: '127.0.0.1', port: 5353 } },
        monitoring: { prometheus: { host: '127.0.0.1' } },
      });
      expect(t.gateway.rateLimit).toEqual({ requestsPerSecond: 10, burst: 20, zoneSize: '10m' });
      expect(t.dns).toMatchObject({ ttl: 30, serial: 1 });
      expect(t.monitoring).toEqual({
        scrapeInterval: '15s',
        prometheus: { host: '127.0.0.1', port: 9090 },
        exporters: { redis: { port: 9121 }, postgres: { port: 9187, authModule: 'keyflow', multiTarget: true } },
      });
    });

    it.each(['local.yaml', 'test.yaml', 'compose.yaml', 'production.yaml'])('should accept %s', (file) => {
      expect(() => loadTopology(join(TOPOLOGIES_DIR, file))).not.toThrow();
    });
  });

  describe('field problems', () => {
    it('should name every bad field of the new sections and why', () => {
      const problems = problemsOf((t) => ({
        ...t,
        gateway: {
          ...t.gateway,
          tls: { mode: 'files', certFile: 'relative/cert.pem' },
          rateLimit: { requestsPerSecond: 0, zoneSize: 'big' },
        },
        healthChecks: { gateway: { maxFails: 0, failTimeout: '5 seconds' }, amqp: { rise: 0 } },
        auth: { readsRequireAuth: 'yes' },
        dns: { zone: 'Keyflow Test', name: 'a.b', server: { host: 'ns.example', port: 0 }, ttl: 0 },
        monitoring: { prometheus: { host: '', port: 99999 }, exporters: { redis: { port: 'x' } } },
      }));
      expect(problems).toEqual([
        expect.stringMatching(/^gateway\.tls\.certFile: must be an absolute path/),
        'gateway.tls.keyFile: is required when mode is "files"',
        'gateway.rateLimit.requestsPerSecond: Number must be greater than or equal to 1',
        'gateway.rateLimit.zoneSize: must be a size such as 10m or 512k',
        'healthChecks.gateway.maxFails: Number must be greater than or equal to 1',
        'healthChecks.gateway.failTimeout: must be a duration such as 500ms, 2s or 1m',
        'healthChecks.amqp.rise: Number must be greater than or equal to 1',
        'auth.readsRequireAuth: Expected boolean, received string',
        'dns.zone: must be a lower-case DNS domain such as keyflow.test',
        'dns.name: must be one lower-case DNS label such as api',
        'dns.server.host: must be an IPv4 or IPv6 address',
        'dns.server.port: Number must be greater than or equal to 1',
        'dns.ttl: Number must be greater than or equal to 1',
        'monitoring.prometheus.host: must be a host name or an IP address',
        'monitoring.prometheus.port: Number must be less than or equal to 65535',
        'monitoring.exporters.redis.port: must be a port number',
      ]);
    });

    it.each([
      [
        { mode: 'self-signed', certFile: '/etc/cert.pem' },
        'gateway.tls.certFile: is only used when mode is "files" (mode is "self-signed")',
      ],
      [{ mode: 'off', redirectHttpPort: 80 }, 'gateway.tls.redirectHttpPort: needs TLS: mode is "off"'],
      [{ mode: 'on' }, expect.stringMatching(/^gateway\.tls\.mode: Invalid enum value/)],
    ])('should refuse the TLS settings %j', (tls, problem) => {
      expect(problemsOf((t) => ({ ...t, gateway: { ...t.gateway, tls } }))).toEqual([problem]);
    });

    it('should name the bad fields of haproxy.redundancy', () => {
      const problems = problemsOf((t) => ({
        ...t,
        haproxy: {
          ...t.haproxy,
          redundancy: {
            virtualIp: '::1',
            interface: 'eth 0',
            virtualRouterId: 256,
            peers: [{ name: 'LB', address: '10.0.0.1', priority: 0 }],
          },
        },
      }));
      expect(problems).toEqual([
        'haproxy.redundancy.virtualIp: must be an IPv4 address',
        'haproxy.redundancy.interface: must be a network interface name such as eth0',
        'haproxy.redundancy.virtualRouterId: Number must be less than or equal to 255',
        'haproxy.redundancy.peers: an active-passive pair needs at least 2 peers',
        'haproxy.redundancy.peers.0.name: must be lower-case letters, digits and dashes, starting with a letter',
        'haproxy.redundancy.peers.0.priority: Number must be greater than or equal to 1',
      ]);
    });

    it('should refuse unknown keys in the new sections', () => {
      expect(problemsOf((t) => ({ ...t, auth: { readsRequireAuth: true, mode: 'token' } }))).toEqual([
        "auth: Unrecognized key(s) in object: 'mode'",
      ]);
    });
  });

  describe('cross-field problems', () => {
    const dns = { zone: 'keyflow.test', name: 'api', server: { host: '127.0.0.1', port: 5353 } };

    it.each<{ what: string; patch: (t: TopologyInput) => unknown; problems: string[] }>([
      {
        what: 'need address literals and one shared port for DNS round robin',
        patch: ({ edge: _edge, ...t }) => ({
          ...t,
          gateway: {
            ...t.gateway,
            instances: [
              { name: 'gateway-1', host: 'gw.internal', port: 8443 },
              { name: 'gateway-2', host: '127.0.0.22', port: 8444 },
            ],
          },
          dns: { ...dns, name: 'ns1' },
        }),
        problems: [
          'gateway.instances.0.host: must be an IP address when dns is set (it becomes an A record)',
          'gateway.instances: every gateway must use the same port when dns is set (clients only learn addresses), found 8443, 8444',
          'dns.name: "ns1" is the zone\'s name server record; choose another name',
        ],
      },
      {
        what: 'find port clashes with the DNS server, Prometheus, exporters and RabbitMQ metrics',
        patch: ({ edge: _edge, ...t }) => ({
          ...t,
          gateway: {
            ...t.gateway,
            instances: [{ name: 'gateway-1', host: '127.0.0.1', port: 8080 }],
            tls: { mode: 'self-signed', redirectHttpPort: 3001 },
          },
          dns: { ...dns, server: { host: '127.0.0.1', port: 5501 } },
          rabbitmq: { ...t.rabbitmq, nodes: t.rabbitmq.nodes.map(({ prometheusPort: _p, ...n }) => n) },
          monitoring: { prometheus: { host: '127.0.0.1', port: 8080 }, exporters: { redis: { port: 7001 } } },
        }),
        problems: [
          'gateway.tls.redirectHttpPort: 127.0.0.1:3001 is already used by api.instances.0.port',
          'dns.server.port: 127.0.0.1:5501 is already used by database.nodes.0.port',
          'monitoring.prometheus.port: 127.0.0.1:8080 is already used by gateway.instances.0.port',
          'monitoring.exporters.redis.port: 127.0.0.1:7001 is already used by redis.nodes.0.port',
          'rabbitmq.nodes.1.prometheusPort: 127.0.0.1:15692 is already used by rabbitmq.nodes.0.prometheusPort',
          'rabbitmq.nodes.2.prometheusPort: 127.0.0.1:15692 is already used by rabbitmq.nodes.0.prometheusPort',
        ],
      },
      {
        what: 'give the edge pair TLS, one bridge address per gateway, and addresses used once',
        patch: (t) => ({
          ...t,
          gateway: { ...t.gateway, tls: { mode: 'off' } },
          edge: {
            ...t.edge,
            port: 8405,
            redundancy: {
              ...t.edge?.redundancy,
              peers: [
                { name: 'lb-1', address: '198.18.77.11', priority: 150 },
                { name: 'lb-1', address: '198.18.77.21', priority: 100 },
              ],
            },
            network: { ...t.edge?.network, gatewayAddresses: ['198.18.77.21', '198.18.77.1'] },
          },
        }),
        problems: [
          'edge.redundancy.peers.1.name: "lb-1" is already used',
          'edge.network.gatewayAddresses: needs one address per gateway instance (3), found 2',
          'edge.network.gatewayAddresses.0: 198.18.77.21 is already used by edge.redundancy.peers.1.address',
          'edge.network.gatewayAddresses.1: 198.18.77.1 is already used by edge.network.hostAddress',
          "edge: the HAProxy pair serves HTTPS with the gateways' certificate; set gateway.tls.mode",
          'edge.statsPort: must differ from edge.port and edge.httpPort',
        ],
      },
      {
        what: 'tie the HAProxy address to the virtual IP and keep peers distinct',
        patch: (t) => ({
          ...t,
          haproxy: {
            ...t.haproxy,
            redundancy: {
              virtualIp: '10.0.0.10',
              interface: 'eth0',
              peers: [
                { name: 'lb-1', address: '10.0.0.11', priority: 100 },
                { name: 'lb-1', address: '10.0.0.10', priority: 100 },
              ],
            },
          },
        }),
        problems: [
          'haproxy.host: must be the virtual IP 10.0.0.10 when redundancy is set (clients reach whichever peer holds it), got 127.0.0.1',
          'haproxy.redundancy.peers.1.priority: 100 is already used; priorities must differ',
          'haproxy.redundancy.peers.1.address: must differ from the virtual IP',
          'lb-1: instance names must be unique',
        ],
      },
    ])('should $what', ({ patch, problems }) => {
      expect(problemsOf(patch)).toEqual(problems);
    });
  });
});
