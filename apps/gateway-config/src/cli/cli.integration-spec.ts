import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, type CommandResult } from '../testing/processes.util';

const REPO_ROOT = join(__dirname, '../../../..');
const FIXTURES = join(__dirname, '../testing/fixtures');

/** The CLI as operators run it: a real node process, so exit codes and streams are the real ones. */
function cli(args: string[]): Promise<CommandResult> {
  return runCommand(
    process.execPath,
    ['-r', '@swc-node/register', join(REPO_ROOT, 'apps/gateway-config/src/main.ts'), ...args],
    { timeoutMs: 60_000 },
  );
}

describe('gateway-config CLI process', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'gateway-config-cli-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('should exit 1 on a broken topology and list every bad field on stderr', async () => {
    const res = await cli(['validate', '--topology', join(FIXTURES, 'broken-topology.yaml')]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    for (const field of [
      'gateway.algorithm',
      'gateway.tls.certFile',
      'dns.server.host',
      'monitoring.prometheus.port',
    ]) {
      expect(res.stderr).toContain(`  - ${field}: `);
    }
  });

  it('should render production.yaml and print each file', async () => {
    const out = join(tmp, 'production');
    const res = await cli(['render', '--topology', join(REPO_ROOT, 'deploy/topologies/production.yaml'), '--out', out]);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    // nginx, HAProxy, BIND (2), Prometheus, the database pair's keepalived (2), the edge's HAProxy and keepalived (2).
    expect(res.stdout.trim().split('\n')).toHaveLength(10);
    expect(res.stdout).toContain(`wrote ${join(out, 'haproxy-edge.cfg')}`);
  });

  it('should create a self-signed certificate with openssl once and keep it on the next render', async () => {
    const topology = join(tmp, 'tls.yaml');
    const local = readFileSync(join(REPO_ROOT, 'deploy/topologies/local.yaml'), 'utf8');
    expect(local).toContain('    mode: local-ca\n');
    writeFileSync(topology, local.replace('    mode: local-ca\n', '    mode: self-signed\n'));
    const out = join(tmp, 'tls');
    const first = await cli(['render', '--topology', topology, '--out', out]);
    expect(first).toMatchObject({ code: 0, stderr: '' });
    expect(first.stdout).toContain(`wrote ${join(out, 'gateway.crt')}`);
    expect(first.stdout).toContain(`wrote ${join(out, 'gateway.key')}`);
    expect(statSync(join(out, 'gateway.key')).mode & 0o777).toBe(0o600);
    const cert = readFileSync(join(out, 'gateway.crt'), 'utf8');
    const subject = await runCommand('openssl', [
      'x509',
      '-in',
      join(out, 'gateway.crt'),
      '-noout',
      '-subject',
      '-ext',
      'subjectAltName',
    ]);
    // Named for the DNS round-robin name, valid for every gateway address behind it.
    expect(subject.stdout).toContain('CN = api.keyflow.test');
    expect(subject.stdout).toContain('DNS:localhost');
    expect(subject.stdout).toContain('IP Address:127.0.0.21, IP Address:127.0.0.22, IP Address:127.0.0.23');

    const second = await cli(['render', '--topology', topology, '--out', out]);
    expect(second.stdout).toContain(`kept ${join(out, 'gateway.crt')}`);
    expect(readFileSync(join(out, 'gateway.crt'), 'utf8')).toBe(cert);
  });
});
