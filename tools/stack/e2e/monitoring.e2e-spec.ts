import { beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, readStack, type StackInfo } from '@keyflow/testing';

/**
 * Monitoring that runs: Prometheus scrapes every process the stack has an exporter for (its own config rendered from
 * the topology), loads keyflow's alert rules and sends to the stack's Alertmanager.
 */
interface Target {
  labels: { job: string; instance: string };
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

let stack: StackInfo;

async function prometheusApi<T>(path: string): Promise<T> {
  const res = await fetch(`${stack.prometheus}${path}`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: T }).data;
}

describe('monitoring (e2e)', { timeout: 120_000 }, () => {
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
      'keyflow-api',
      'keyflow-worker',
      'node',
      'postgres',
      'prometheus',
      'rabbitmq',
      'redis',
    ]);
    expect(targets.filter((t) => t.labels.job === 'redis')).toHaveLength(6);
    expect(targets.filter((t) => t.labels.job === 'rabbitmq')).toHaveLength(3);
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
});
