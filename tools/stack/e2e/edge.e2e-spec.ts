import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentPid,
  gatewayRequest,
  killProcess,
  pollUntil,
  readStack,
  startProcess,
  stopProcess,
  type StackInfo,
} from '@keyflow/testing';

/**
 * The second entry path: an HTTP-mode HAProxy pair (each peer in a network namespace of the stack's own, with its
 * keepalived) on a virtual IP in front of the three gateways. Requests through the virtual IP spread over the
 * gateways; a gateway that dies is taken out by the health check; when the active HAProxy dies the passive one takes
 * the virtual IP over. Every request goes over a new connection, as a client meeting a failover does.
 */
const execFileAsync = promisify(execFile);

let stack: StackInfo;
let ca: string;

interface Answer {
  status: number;
  gateway?: string;
  setCookie: string[];
}

/** One HTTPS request on a fresh connection, trusting only the stack's CA; status 0 when it failed. */
function send(
  url: string,
  { method = 'GET', body, timeoutMs = 1_500 }: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<Answer> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method,
        ca,
        agent: false,
        timeout: timeoutMs,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            gateway: res.headers['x-gateway-address'] as string | undefined,
            setCookie: res.headers['set-cookie'] ?? [],
          }),
        );
        res.on('error', () => resolve({ status: 0, setCookie: [] }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, setCookie: [] }));
    req.end(payload);
  });
}

interface Sample {
  at: number;
  ok: boolean;
  status: number;
}

/** Sends GET /health/ready through the virtual IP from `workers` loops until stopped; every answer, timed. */
function pollVirtualIp(workers = 3): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      // A slow answer on a busy machine is not a failure: only an error, a refused or reset connection is.
      const answer = await send(`${stack.loadBalancer}/health/ready`, { timeoutMs: 5_000 });
      samples.push({ at: Date.now(), ok: answer.status === 200, status: answer.status });
      await new Promise((r) => setTimeout(r, 25));
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples.sort((a, b) => a.at - b.at);
    },
  };
}

/** From `since`: how long until every later request succeeded, and how many failed before that. */
function outage(
  samples: Sample[],
  since: number,
): { failed: number; lastFailureMs: number; after: number; statuses: string } {
  const later = samples.filter((s) => s.at >= since);
  const failures = later.filter((s) => !s.ok);
  const last = failures.at(-1);
  const counts = new Map<number, number>();
  for (const f of failures) counts.set(f.status, (counts.get(f.status) ?? 0) + 1);
  return {
    failed: failures.length,
    lastFailureMs: last ? last.at - since : 0,
    after: later.filter((s) => s.ok && (!last || s.at > last.at)).length,
    statuses: [...counts].map(([status, n]) => `${n}× ${status || 'no answer'}`).join(', ') || 'none',
  };
}

async function virtualIpHolder(): Promise<string | undefined> {
  for (const peer of stack.edge?.peers ?? []) {
    const { stdout } = await execFileAsync('ip', ['-n', peer.namespace, '-4', '-o', 'addr', 'show']);
    if (stdout.includes(` ${stack.edge?.virtualIp}/`)) return peer.name;
  }
  return undefined;
}

/** Which gateways answered `count` requests through the virtual IP, by the address they were reached at. */
async function gatewaysServing(count: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const answer = await send(`${stack.loadBalancer}/health/ready`);
    expect(answer.status).toBe(200);
    seen.set(answer.gateway ?? '?', (seen.get(answer.gateway ?? '?') ?? 0) + 1);
  }
  return seen;
}

const peerProcess = (peer: string): string => `haproxy-edge-${peer}`;

/**
 * Until the peer can take the virtual IP over: its HAProxy answers its liveness URI, and its keepalived (whose check
 * asks that URI's port) says in its log that it last entered BACKUP or MASTER, not FAULT.
 */
async function waitForReady(peer: string): Promise<void> {
  const url = stack.processes.find((p) => p.name === peerProcess(peer))?.healthUrl ?? '';
  await pollUntil(
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
      await res?.body?.cancel();
      return res?.status ?? 0;
    },
    (status) => status === 200,
    { timeoutMs: 30_000, what: `${peer}'s HAProxy to answer ${url}` },
  );
  const log = join(stack.stackDir, 'logs', `keepalived-${peer}.log`);
  await pollUntil(
    () => Promise.resolve([...readFileSync(log, 'utf8').matchAll(/Entering (\w+) STATE/g)].at(-1)?.[1]),
    (state) => state === 'BACKUP' || state === 'MASTER',
    { timeoutMs: 30_000, what: `${peer}'s keepalived out of FAULT (${log})` },
  );
}

describe('the edge HAProxy pair on a virtual IP (e2e)', { timeout: 120_000 }, () => {
  beforeAll(() => {
    stack = readStack();
    if (!stack.loadBalancer || !stack.edge || !stack.ca) {
      throw new Error(
        `the test stack runs the edge pair (loadBalancer, edge and ca in ${stack.stackDir}/stack.json); see the stack's start-up output for why it did not`,
      );
    }
    ca = readFileSync(stack.ca, 'utf8');
  });

  afterAll(async () => {
    for (const p of stack.processes.filter((x) => x.kind === 'haproxy-edge' || x.kind === 'nginx'))
      await startProcess(p.name, { timeoutMs: 30_000 }).catch(() => undefined);
  });

  it('should give the virtual IP to exactly one peer', async () => {
    const holders: string[] = [];
    for (const peer of stack.edge?.peers ?? []) {
      const { stdout } = await execFileAsync('ip', ['-n', peer.namespace, '-4', '-o', 'addr', 'show']);
      if (stdout.includes(` ${stack.edge?.virtualIp}/`)) holders.push(peer.name);
    }
    expect(holders).toHaveLength(1);
  });

  it('should resolve the load balancer name to the virtual IP, next to the round-robin name', async () => {
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([stack.dns?.server ?? '']);
    expect(await resolver.resolve4(stack.edge?.name ?? '')).toEqual([stack.edge?.virtualIp]);
    expect((await resolver.resolve4(stack.dns?.name ?? '')).sort()).toEqual(
      stack.gateways.map((g) => new URL(g).hostname).sort(),
    );
  });

  it('should answer `curl --cacert <ca>` over HTTPS on the virtual IP and by its name, and redirect plain HTTP', async () => {
    const vip = new URL(stack.loadBalancer ?? '');
    const { stdout } = await execFileAsync('curl', [
      ...['-sS', '--cacert', stack.ca ?? '', '-o', '/dev/null', '-w', '%{http_code} %{ssl_verify_result}'],
      ...['--resolve', `${stack.edge?.name}:${vip.port || 443}:${vip.hostname}`],
      `https://${stack.edge?.name}:${vip.port || 443}/health/ready`,
    ]);
    expect(stdout).toBe('200 0');
    const plain = await execFileAsync('curl', [
      ...['-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}'],
      `${stack.edge?.http}/v1/kv/some-key`,
    ]);
    expect(plain.stdout).toBe(`308 ${stack.loadBalancer}/v1/kv/some-key`);
  });

  it('should spread requests over the three gateways and set the session cookie Secure', async () => {
    const seen = await gatewaysServing(30);
    // Each gateway as the edge reaches it: at its address on the stack's bridge.
    const addresses = [...seen.keys()].sort();
    expect(addresses).toHaveLength(stack.gateways.length);
    addresses.forEach((address, i) => expect(address).toMatch(new RegExp(`^198\\.18\\.\\d+\\.2${i + 1}:`)));
    for (const count of seen.values()) expect(count).toBeGreaterThanOrEqual(5);

    const username = `edge-${randomUUID().slice(0, 8)}`;
    const password = 'correct horse battery staple';
    const created = await gatewayRequest('POST', '/v1/users', { stack, body: { username, password, role: 'user' } });
    expect(created.status).toBe(201);
    const login = await send(`${stack.loadBalancer}/v1/auth/login`, { method: 'POST', body: { username, password } });
    expect(login.status).toBe(200);
    const cookie = login.setCookie.find((c) => c.startsWith('keyflow_session=')) ?? '';
    expect(cookie.split(/;\s*/).map((p) => p.toLowerCase())).toEqual(expect.arrayContaining(['secure', 'httponly']));
  });

  it('should take a SIGKILLed gateway out of the rotation within its health check, and back once the supervisor restarts it', async () => {
    const victim = stack.processes.find((p) => p.kind === 'nginx');
    if (!victim) throw new Error('no gateway in the stack');
    const poll = pollVirtualIp();
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    await killProcess(victim.name, 'SIGKILL');
    await startProcess(victim.name, { waitForHealth: true, timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 3_000));
    const window = outage(await poll.stop(), killedAt);
    // Connections refused by the dead gateway are sent to another one (retry-on conn-failure): at most the requests
    // it held when it died fail, and none after the check (inter 1 s × fall 2) has noticed.
    console.log(
      `gateway ${victim.name} SIGKILLed: ${window.failed} request(s) failed (${window.statuses}), the last ${window.lastFailureMs} ms after`,
    );
    expect(window.lastFailureMs).toBeLessThanOrEqual(3_000);
    expect(window.after).toBeGreaterThan(10);
    // Back in the rotation: all three answer again.
    await pollUntil(
      async () => (await gatewaysServing(9)).size,
      (n) => n === stack.gateways.length,
      { timeoutMs: 15_000, what: 'the restarted gateway back in the rotation' },
    );
  });

  it('should keep answering through the virtual IP when the active HAProxy is SIGKILLed (the supervisor restarts it)', async () => {
    const active = await virtualIpHolder();
    if (!active) throw new Error('no edge peer holds the virtual IP');
    const poll = pollVirtualIp();
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    const oldPid = await killProcess(peerProcess(active), 'SIGKILL');
    expect(await startProcess(peerProcess(active), { timeoutMs: 30_000 })).not.toBe(oldPid);
    await new Promise((r) => setTimeout(r, 3_000));
    const window = outage(await poll.stop(), killedAt);
    console.log(
      `active HAProxy ${active} SIGKILLed: ${window.failed} request(s) failed (${window.statuses}), the last ${window.lastFailureMs} ms after; ${await virtualIpHolder()} holds the virtual IP`,
    );
    expect(window.lastFailureMs).toBeLessThanOrEqual(5_000);
    expect(window.after).toBeGreaterThan(10);
  });

  it('should move the virtual IP to the passive peer within 5 s when the active HAProxy dies and stays down, and keep it there when the first returns', async () => {
    const active = await virtualIpHolder();
    const passive = stack.edge?.peers.find((p) => p.name !== active)?.name;
    if (!active || !passive) throw new Error('the edge pair needs two peers, one holding the virtual IP');
    // The passive peer must be ready to take over: its HAProxy answers (keepalived's check rises within seconds).
    await waitForReady(passive);
    const poll = pollVirtualIp();
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    await killProcess(peerProcess(active), 'SIGKILL');
    // A peer that does not come back: the supervisor's restart (if it began) is stopped too.
    await stopProcess(peerProcess(active));
    expect(await currentPid(peerProcess(active))).toBe(0);
    await pollUntil(virtualIpHolder, (h) => h === passive, {
      timeoutMs: 20_000,
      what: `${passive} to take the virtual IP`,
    });
    const tookOverMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, 2_000));
    const failover = outage(await poll.stop(), killedAt);
    console.log(
      `active HAProxy ${active} down for good: ${passive} held the virtual IP after ${tookOverMs} ms; ${failover.failed} request(s) failed (${failover.statuses}), the last ${failover.lastFailureMs} ms after`,
    );
    expect(tookOverMs).toBeLessThanOrEqual(5_000);
    expect(failover.lastFailureMs).toBeLessThanOrEqual(5_000);
    expect(failover.after).toBeGreaterThan(10);

    // The first peer returns: it becomes the standby (nopreempt), the address stays, and no request fails.
    const back = pollVirtualIp();
    await new Promise((r) => setTimeout(r, 500));
    const returnedAt = Date.now();
    await startProcess(peerProcess(active), { waitForHealth: true, timeoutMs: 30_000 });
    // Long enough for its keepalived check to rise (2 × 1 s) and for a preemption, were there one, to happen.
    await new Promise((r) => setTimeout(r, 6_000));
    const failback = outage(await back.stop(), returnedAt);
    const holder = await virtualIpHolder();
    console.log(
      `${active} returned: ${holder} holds the virtual IP; ${failback.failed} request(s) failed (${failback.statuses})`,
    );
    expect(holder).toBe(passive);
    expect(failback.failed).toBe(0);
    expect(failback.after).toBeGreaterThan(10);
  });
});
