import { describe, expect, it } from 'vitest';
import { currentPid, killProcess, pollUntil, readStack, startProcess } from '@keyflow/testing';

/**
 * Each gateway address is its own nginx process under the supervisor: one dies alone, the others keep serving
 * while it is gone, and the supervisor brings it back.
 */
async function healthStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

describe('gateways (e2e)', { timeout: 60_000 }, () => {
  it('should run one nginx process per gateway address', async () => {
    const stack = readStack();
    const gateways = stack.processes.filter((p) => p.kind === 'nginx');
    expect(gateways.map((p) => p.host).sort()).toEqual(stack.gateways.map((g) => new URL(g).hostname).sort());
    const pids = await Promise.all(gateways.map((p) => currentPid(p.name)));
    expect(pids.every((pid) => pid > 0)).toBe(true);
    expect(new Set(pids).size).toBe(gateways.length);
  });

  it('should keep the other gateways serving while one is SIGKILLed, and restart it', async () => {
    const stack = readStack();
    const [victim, ...others] = stack.processes.filter((p) => p.kind === 'nginx');
    if (!victim || !others.length) throw new Error('the test stack needs at least two gateways');
    const victimUrl = victim.healthUrl ?? '';
    const otherUrls = others.map((o) => o.healthUrl ?? '');
    const oldPid = await killProcess(victim.name, 'SIGKILL');
    expect(oldPid).toBeGreaterThan(0);
    // While it is down (or restarting), the others answer every time.
    const whileDown = await Promise.all(otherUrls.map(healthStatus));
    expect(whileDown).toEqual(otherUrls.map(() => 200));
    await startProcess(victim.name, { waitForHealth: true, timeoutMs: 30_000 });
    const newPid = await currentPid(victim.name);
    expect(newPid).toBeGreaterThan(0);
    expect(newPid).not.toBe(oldPid);
    await pollUntil(
      () => healthStatus(victimUrl),
      (s) => s === 200,
      { what: `${victimUrl} back`, timeoutMs: 20_000 },
    );
    expect(await Promise.all(otherUrls.map(healthStatus))).toEqual(otherUrls.map(() => 200));
  });
});
