import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTopology, parseTopology, type Topology } from '@keyflow/topology';
import { pollUntil } from '@keyflow/testing';
import { freePort, runCommand } from '../testing/processes.util';
import { NAMED_CONF_FILE } from './render.constant';
import { renderAll } from './render.service';
import { writeRenderedFiles } from './render-writer.util';

const TOPOLOGIES_DIR = join(__dirname, '../../../../deploy/topologies');
const GATEWAYS = ['127.0.0.21', '127.0.0.22', '127.0.0.23'];
const FQDN = 'api.keyflow.test';

/** local.yaml with three gateways on their own loopback addresses and a DNS zone served on `port`. */
function roundRobinTopology(port: number): Topology {
  const local = loadTopology(join(TOPOLOGIES_DIR, 'local.yaml'));
  return parseTopology({
    ...local,
    gateway: {
      ...local.gateway,
      instances: GATEWAYS.map((host, i) => ({ name: `gateway-${i + 1}`, host, port: 8443 })),
    },
    dns: { zone: 'keyflow.test', name: 'api', server: { host: '127.0.0.1', port }, ttl: 5 },
  });
}

describe('BIND9 round robin over the gateways (rendered named.conf and zone)', () => {
  let dir: string;
  let port: number;
  let named: ChildProcess | undefined;
  let output = '';

  async function query(): Promise<string[]> {
    const dig = await runCommand('dig', ['@127.0.0.1', '-p', String(port), FQDN, 'A', '+short', '+tries=1', '+time=1']);
    if (dig.code !== 0) throw new Error(`dig exited ${dig.code}: ${dig.stdout}${dig.stderr}`);
    return dig.stdout.split('\n').filter(Boolean);
  }

  async function stopNamed(): Promise<void> {
    const child = named;
    named = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-config-named-'));
    chmodSync(dir, 0o755);
    port = await freePort();
    const outDir = join(dir, 'conf');
    const runDir = join(dir, 'run');
    mkdirSync(runDir, { recursive: true, mode: 0o755 });
    writeRenderedFiles(renderAll(roundRobinTopology(port), { outDir, runDir }), outDir);
    // -g: foreground, logging to stderr; stopped by its pid in afterAll whatever happens in the tests.
    named = spawn('named', ['-c', join(outDir, NAMED_CONF_FILE), '-g'], { stdio: ['ignore', 'pipe', 'pipe'] });
    named.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    named.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const started = named;
    await pollUntil(
      async () => {
        if (started.exitCode !== null) throw new Error(`named exited ${started.exitCode}:\n${output}`);
        return query();
      },
      (answers) => answers.length === GATEWAYS.length,
      { timeoutMs: 20_000, intervalMs: 200, what: `named to answer ${FQDN} on port ${port}` },
    );
  });

  afterAll(async () => {
    await stopNamed();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should answer every gateway address and rotate their order on every query', async () => {
    const answers = [await query(), await query(), await query()];
    for (const answer of answers) expect([...answer].sort()).toEqual(GATEWAYS);
    // rrset-order cyclic: each answer starts one record further on, so three queries start with three addresses.
    expect(new Set(answers.map((a) => a[0])).size).toBe(3);
  });

  it('should refuse to resolve names outside its zone (recursion off)', async () => {
    const dig = await runCommand('dig', ['@127.0.0.1', '-p', String(port), 'example.org', 'A', '+tries=1', '+time=1']);
    expect(dig.stdout).toMatch(/status: REFUSED/);
  });
});
