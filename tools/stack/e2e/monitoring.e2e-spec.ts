import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freezeProcess, pollUntil, readStack, type StackInfo } from '@keyflow/testing';

/**
 * Monitoring that runs: Prometheus scrapes every process the stack has an exporter for (its own config rendered from
 * the topology), loads keyflow's alert rules and sends to the stack's Alertmanager.
 */
interface Target {
  labels: { job: string; instance: string; keyflow_instance?: string };
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  scrapeInterval: string;
  scrapeTimeout: string;
}

/** An alert as Alertmanager's `GET /api/v2/alerts` lists it. */
interface ManagedAlert {
  labels: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed' };
}

/** An alert as Prometheus's `GET /api/v1/alerts` lists it: pending or firing only. */
interface RuleAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
}

let stack: StackInfo;

async function prometheusApi<T>(path: string): Promise<T> {
  const res = await fetch(`${stack.prometheus}${path}`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: T }).data;
}

async function alertmanagerAlerts(): Promise<ManagedAlert[]> {
  const res = await fetch(`${stack.alertmanager}/api/v2/alerts`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return (await res.json()) as ManagedAlert[];
}

/** Seconds in Prometheus's duration syntax as the targets API writes them (`5s`, `1m`, `1m30s`). */
function seconds(duration: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  return [...duration.matchAll(/(\d+)(ms|s|m|h)/g)].reduce(
    (sum, [, n, u]) => sum + Number(n) * (units[u ?? 's'] ?? 1),
    0,
  );
}

/** The continuation of a process a test froze: a failing test must never leave a stopped worker behind. */
let resumeFrozen: (() => void) | undefined;

describe('monitoring (e2e)', { timeout: 120_000 }, () => {
  afterEach(() => {
    resumeFrozen?.();
    resumeFrozen = undefined;
  });

  beforeAll(() => {
    stack = readStack();
    if (!stack.prometheus || !stack.alertmanager)
      throw new Error('the test stack should run Prometheus and Alertmanager');
  });

  it('should scrape every target of the rendered config and find each one up', async () => {
    const targets = await pollUntil(
      async () => (await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets,
      (all) => all.length > 0 && all.every((t) => t.health === 'up'),
      { what: 'every Prometheus target to be up', timeoutMs: 90_000, intervalMs: 1_000 },
    );
    const jobs = [...new Set(targets.map((t) => t.labels.job))].sort();
    expect(jobs).toEqual([
      'alertmanager',
      'haproxy',
      'haproxy-edge',
      'keyflow-api',
      'keyflow-worker',
      'node',
      'patroni',
      'postgres',
      'prometheus',
      'rabbitmq',
      'redis',
    ]);
    expect(targets.filter((t) => t.labels.job === 'redis')).toHaveLength(6);
    expect(targets.filter((t) => t.labels.job === 'rabbitmq')).toHaveLength(3);
    // Both peers of the edge pair, the passive one too: its HAProxy runs, ready to take the virtual IP.
    expect(targets.filter((t) => t.labels.job === 'haproxy-edge')).toHaveLength(2);
  });

  it("should load keyflow's alert rules and send alerts to the stack's Alertmanager", async () => {
    const rules = await prometheusApi<{ groups: Array<{ rules: Array<{ name: string; type: string }> }> }>(
      '/api/v1/rules?type=alert',
    );
    expect(rules.groups.flatMap((g) => g.rules.map((r) => r.name))).toEqual(
      expect.arrayContaining(['InstanceDown', 'ShardBacklogGrowing', 'DeadLettersPresent', 'ApiErrorRateHigh']),
    );
    const managers = await prometheusApi<{ activeAlertmanagers: Array<{ url: string }> }>('/api/v1/alertmanagers');
    expect(managers.activeAlertmanagers.map((a) => new URL(a.url).host)).toEqual([
      new URL(stack.alertmanager ?? '').host,
    ]);
    const status = await fetch(`${stack.alertmanager}/api/v2/status`);
    expect(status.status).toBe(200);
  });

  it(
    'should fire InstanceDown in Alertmanager within 90 s of a worker freezing (SIGSTOP), and resolve it once it continues',
    { timeout: 240_000 },
    async () => {
      const name = 'worker-1';
      const isWorker = (labels: Record<string, string>): boolean =>
        labels['alertname'] === 'InstanceDown' &&
        labels['job'] === 'keyflow-worker' &&
        labels['keyflow_instance'] === name;
      const workerTarget = (targets: Target[]): Target | undefined =>
        targets.find((t) => t.labels.job === 'keyflow-worker' && t.labels.keyflow_instance === name);
      // The worker is scraped, and a hung one fails its scrape within the interval: up == 0 every scrape it misses.
      const before = await pollUntil(
        async () => workerTarget((await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets),
        (t) => t?.health === 'up',
        { what: `${name} to be scraped and up`, timeoutMs: 60_000, intervalMs: 1_000 },
      );
      expect(seconds(before?.scrapeTimeout ?? '')).toBeGreaterThan(0);
      expect(seconds(before?.scrapeTimeout ?? '')).toBeLessThanOrEqual(seconds(before?.scrapeInterval ?? ''));
      expect((await alertmanagerAlerts()).filter((a) => isWorker(a.labels))).toEqual([]);

      resumeFrozen = await freezeProcess(name);
      const frozenAt = Date.now();
      const firing = await pollUntil(
        () => alertmanagerAlerts(),
        (alerts) => alerts.some((a) => isWorker(a.labels) && a.status.state === 'active'),
        { what: `InstanceDown for ${name} to fire in Alertmanager`, timeoutMs: 90_000, intervalMs: 1_000 },
      );
      const firedMs = Date.now() - frozenAt;
      expect(firing.find((a) => isWorker(a.labels))?.labels).toMatchObject({
        severity: 'page',
        instance: `${before?.labels.instance}`,
        topology: stack.name,
      });

      resumeFrozen();
      resumeFrozen = undefined;
      const continuedAt = Date.now();
      await pollUntil(
        async () => ({
          rules: (await prometheusApi<{ alerts: RuleAlert[] }>('/api/v1/alerts')).alerts,
          managed: await alertmanagerAlerts(),
        }),
        ({ rules, managed }) =>
          !rules.some((a) => isWorker(a.labels)) &&
          // Resolved: gone from Alertmanager's list, or listed with an end in the past.
          !managed.some((a) => isWorker(a.labels) && Date.parse(a.endsAt) > Date.now()),
        { what: `InstanceDown for ${name} to resolve`, timeoutMs: 60_000, intervalMs: 1_000 },
      );
      const resolvedMs = Date.now() - continuedAt;
      await pollUntil(
        async () => workerTarget((await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets')).activeTargets),
        (t) => t?.health === 'up',
        { what: `${name} to be up again`, timeoutMs: 30_000, intervalMs: 1_000 },
      );
      console.log(
        `[monitoring] InstanceDown for ${name}: firing in Alertmanager ${(firedMs / 1000).toFixed(1)} s after SIGSTOP ` +
          `(for: 30s, scrape every ${before?.scrapeInterval}, timeout ${before?.scrapeTimeout}); ` +
          `resolved ${(resolvedMs / 1000).toFixed(1)} s after SIGCONT`,
      );
    },
  );
});
