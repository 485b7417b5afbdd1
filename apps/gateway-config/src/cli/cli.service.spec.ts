import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, runCli } from './cli.service';

const REPO_ROOT = join(__dirname, '../../../..');
const FIXTURES = join(__dirname, '../testing/fixtures');

function run(argv: string[], cwd = REPO_ROOT): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, cwd);
  return { code, out, err };
}

describe(runCli.name, () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'gateway-config-cli-'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  describe('render', () => {
    it('should write every file into --out, creating it, and print one line per file', () => {
      const out = join(tmp, 'conf');
      const { code, out: lines, err } = run(['render', '--topology', 'deploy/topologies/local.yaml', '--out', out]);
      expect({ code, err }).toEqual({ code: EXIT_OK, err: [] });
      expect(lines).toEqual([
        `wrote ${join(out, 'nginx.conf')}`,
        `wrote ${join(out, 'haproxy.cfg')}`,
        `wrote ${join(out, 'named.conf')}`,
        `wrote ${join(out, 'keyflow.test.zone')}`,
        `wrote ${join(out, 'prometheus.yml')}`,
        `wrote ${join(out, 'keyflow-alerts.yml')}`,
        `wrote ${join(out, 'alertmanager.yml')}`,
        // local.yaml's edge pair: its HAProxy, each peer's keepalived.
        `wrote ${join(out, 'haproxy-edge.cfg')}`,
        `wrote ${join(out, 'keepalived-edge-lb-1.conf')}`,
        `wrote ${join(out, 'keepalived-edge-lb-2.conf')}`,
        // local.yaml's TLS: the stack's own CA and the gateway certificate it signs.
        `wrote ${join(out, 'ca.crt')}`,
        `wrote ${join(out, 'gateway.crt')}`,
        `wrote ${join(out, 'gateway.key')}`,
        // The certificate and its key in one file, for the edge's HAProxy.
        `wrote ${join(out, 'edge.pem')}`,
      ]);
      expect(statSync(join(out, 'nginx.conf')).mode & 0o777).toBe(0o644);
      expect(statSync(join(out, 'gateway.key')).mode & 0o777).toBe(0o600);
      expect(statSync(join(out, 'edge.pem')).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(out, 'edge.pem'), 'utf8')).toBe(
        `${readFileSync(join(out, 'gateway.crt'), 'utf8')}${readFileSync(join(out, 'gateway.key'), 'utf8')}`,
      );
      expect(statSync(join(out, 'ca.key')).mode & 0o777).toBe(0o600);
      // A second render keeps the CA and the certificate clients already trust.
      const again = run(['render', '--topology', 'deploy/topologies/local.yaml', '--out', out]);
      expect(again.out.filter((l) => /\.(crt|key)$/.test(l))).toEqual([
        `kept ${join(out, 'ca.crt')}`,
        `kept ${join(out, 'gateway.crt')}`,
        `kept ${join(out, 'gateway.key')}`,
      ]);
      // --no-edge: the same topology as a stack that cannot make the edge's namespaces renders it.
      const bare = join(tmp, 'bare');
      const noEdge = run(['render', '--topology', 'deploy/topologies/local.yaml', '--out', bare, '--no-edge']);
      expect(noEdge.out.filter((l) => /edge/.test(l))).toEqual([]);
      expect(readFileSync(join(bare, 'nginx.conf'), 'utf8')).not.toContain('198.18.77.21');
      expect(readFileSync(join(out, 'nginx.conf'), 'utf8')).toContain('listen 198.18.77.21:8443 ssl; # gateway-1');
      // Without --run-dir the out dir holds the run-time files too.
      expect(readFileSync(join(out, 'nginx.conf'), 'utf8')).toContain(`pid ${join(out, 'nginx.pid')};`);
    });

    it('should also write one nginx-<gateway>.conf per gateway with --per-gateway', () => {
      const out = join(tmp, 'conf');
      const { code, out: lines } = run([
        'render',
        '--topology',
        'deploy/topologies/local.yaml',
        '--out',
        out,
        '--per-gateway',
      ]);
      expect(code).toBe(EXIT_OK);
      expect(lines.filter((l) => l.includes('nginx-'))).toEqual(
        [1, 2, 3].map((n) => `wrote ${join(out, `nginx-gateway-${n}.conf`)}`),
      );
      expect(readFileSync(join(out, 'nginx-gateway-3.conf'), 'utf8')).toContain(
        `pid ${join(out, 'nginx-gateway-3.pid')};`,
      );
    });

    it("should serve the console from --console-root instead of the topology's consoleRoot", () => {
      const out = join(tmp, 'console-conf');
      const root = join(tmp, 'run', 'console');
      const { code } = run([
        'render',
        '--topology',
        'deploy/topologies/local.yaml',
        '--out',
        out,
        '--console-root',
        root,
      ]);
      expect(code).toBe(EXIT_OK);
      const nginx = readFileSync(join(out, 'nginx.conf'), 'utf8');
      expect(nginx).toContain(`root ${root};`);
      expect(nginx).not.toContain('dist/apps/console');
      expect(run(['render', '--topology', 'deploy/topologies/local.yaml', '--out', out, '--console-root=']).code).toBe(
        EXIT_USAGE,
      );
    });

    it('should resolve relative --out and --run-dir against the working directory and create both', () => {
      const topology = join(REPO_ROOT, 'deploy/topologies/test.yaml');
      const { code } = run(['render', `--topology=${topology}`, '--out', 'conf', '--run-dir', 'run'], tmp);
      expect(code).toBe(EXIT_OK);
      expect(statSync(join(tmp, 'run')).isDirectory()).toBe(true);
      const haproxy = readFileSync(join(tmp, 'conf', 'haproxy.cfg'), 'utf8');
      expect(haproxy).toContain(`pidfile ${join(tmp, 'run', 'haproxy.pid')}`);
      expect(haproxy).toContain(`stats socket ${join(tmp, 'run', 'haproxy.sock')}`);
    });

    it('should print the --conf-dir paths into the configs but write into --out', () => {
      const out = join(tmp, 'rendered');
      const { code, out: lines } = run([
        'render',
        '--topology',
        'deploy/topologies/compose.yaml',
        '--out',
        out,
        '--conf-dir',
        '/etc/keyflow',
        '--run-dir',
        join(tmp, 'run'),
      ]);
      expect(code).toBe(EXIT_OK);
      expect(lines).toEqual(['nginx.conf', 'haproxy.cfg', 'prometheus.yml'].map((f) => `wrote ${join(out, f)}`));
      const nginx = readFileSync(join(out, 'nginx.conf'), 'utf8');
      expect(nginx).toContain('-c /etc/keyflow/nginx.conf');
      expect(nginx).toMatch(/^daemon off;$/m);
    });

    it('should exit 1 and name the bad fields when the topology is invalid', () => {
      const bad = join(tmp, 'bad.yaml');
      writeFileSync(bad, 'name: Bad\n');
      const { code, out, err } = run(['render', '--topology', bad, '--out', join(tmp, 'conf')]);
      expect(code).toBe(EXIT_FAILED);
      expect(out).toEqual([]);
      expect(err.join('\n')).toContain('name: must be lower-case letters');
    });
  });

  describe('validate', () => {
    it('should print ok for a valid topology', () => {
      expect(run(['validate', '--topology', 'deploy/topologies/local.yaml'])).toEqual({
        code: EXIT_OK,
        out: ['ok'],
        err: [],
      });
    });

    it('should exit 1 and print every bad field', () => {
      const bad = join(tmp, 'bad.yaml');
      writeFileSync(bad, 'name: local\ngateway: { algorithm: random, instances: [] }\n');
      const { code, out, err } = run(['validate', '--topology', bad]);
      expect(code).toBe(EXIT_FAILED);
      expect(out).toEqual([]);
      const text = err.join('\n');
      for (const field of [
        'gateway.algorithm',
        'gateway.instances',
        'api',
        'worker',
        'redis',
        'rabbitmq',
        'database',
      ]) {
        expect(text).toMatch(new RegExp(`^  - ${field.replace('.', '\\.')}: `, 'm'));
      }
    });

    it.each([
      [
        'broken-topology.yaml',
        [
          'gateway.algorithm',
          'gateway.tls.certFile',
          'gateway.tls.keyFile',
          'gateway.rateLimit.requestsPerSecond',
          'gateway.rateLimit.burst',
          'api.instances',
          'haproxy.redundancy.virtualIp',
          'haproxy.redundancy.peers',
          'haproxy.redundancy.peers.0.priority',
          'healthChecks.database.interval',
          'auth.readsRequireAuth',
          'dns.zone',
          'dns.server.host',
          'monitoring.prometheus.port',
        ],
      ],
      [
        'inconsistent-topology.yaml',
        [
          'gateway.instances.0.host',
          'gateway.instances',
          'dns.name',
          'monitoring.prometheus.port',
          'rabbitmq.nodes.1.prometheusPort',
          'haproxy.host',
          'haproxy.redundancy.peers.1.priority',
          'haproxy.redundancy.peers.1.address',
        ],
      ],
    ])('should exit 1 for the fixture %s and name each bad field, one line each', (fixture, fields) => {
      const { code, out, err } = run(['validate', '--topology', join(FIXTURES, fixture)]);
      expect(code).toBe(EXIT_FAILED);
      expect(out).toEqual([]);
      const lines = err.join('\n').split('\n');
      expect(lines[0]).toBe(`invalid topology ${join(FIXTURES, fixture)}:`);
      // Every problem says which field and why: "  - <path>: <reason>".
      expect(lines.slice(1).map((l) => /^ {2}- ([\w.]+): \S.*$/.exec(l)?.[1])).toEqual(fields);
    });

    it('should exit 1 when the file cannot be read', () => {
      const { code, err } = run(['validate', '--topology', join(tmp, 'missing.yaml')]);
      expect(code).toBe(EXIT_FAILED);
      expect(err.join('\n')).toContain('cannot read file');
    });
  });

  describe('usage', () => {
    it.each([['--help'], ['-h'], ['render', '--help']])('should print the usage for %s and exit 0', (...argv) => {
      const { code, out } = run(argv);
      expect(code).toBe(EXIT_OK);
      expect(out.join('\n')).toMatch(/^Usage: gateway-config <command>/);
    });

    it('should print the usage and exit 2 without a command', () => {
      const { code, out, err } = run([]);
      expect(code).toBe(EXIT_USAGE);
      expect(out).toEqual([]);
      expect(err.join('\n')).toContain('missing command');
      expect(err.join('\n')).toContain('Usage: gateway-config');
    });

    it.each([
      [['frobnicate'], 'unknown command "frobnicate"'],
      [['render', '--topology', 'x.yaml'], 'render: missing required option --out'],
      [['render', '--out', 'conf'], 'render: missing required option --topology'],
      [['render', '--topology', 'x.yaml', '--out', 'conf', '--colour'], "Unknown option '--colour'"],
      [['render', '--topology'], "Option '--topology <value>' argument missing"],
      [['render', '--topology', 'x.yaml', '--out', 'conf', 'extra'], 'render: unexpected argument "extra"'],
      [['validate', '--topology', 'x.yaml', '--out', 'conf'], 'validate: option --out does not apply'],
      [['validate'], 'validate: missing required option --topology'],
    ])('should exit 2 for %j', (argv, message) => {
      const { code, out, err } = run(argv);
      expect(code).toBe(EXIT_USAGE);
      expect(out).toEqual([]);
      expect(err[0]).toBe(`gateway-config: ${message}`);
    });
  });
});
