import { beforeAll, describe, expect, it } from 'vitest';
import { pollUntil, readStack, type StackInfo } from '@keyflow/testing';

/**
 * The database alerts on real data: Prometheus scrapes each Patroni's `/metrics` (job `patroni`), so on a healthy
 * stack exactly one node reports itself primary, every replica's replay lag is measured in bytes, and neither
 * DatabaseNoPrimary nor DatabaseReplicationLag is pending or firing. (Debian's postgres_exporter 0.11 has no
 * replication metrics: the rules once read those, and DatabaseNoPrimary fired on every healthy stack.) This suite
 * only reads: failover is another suite's (apps/worker/e2e/failover.e2e-spec.ts).
 */
interface Target {
  labels: { job: string; instance: string; keyflow_instance?: string };
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

interface RuleGroup {
  name: string;
  lastEvaluation: string;
  rules: Array<{ name: string; type: string; health: string; lastError?: string }>;
}

/** Patroni's `GET /cluster`: who leads, as Patroni itself says. */
interface PatroniCluster {
  members: Array<{ name: string; role: string; state: string }>;
}

const DATABASE_ALERTS = ['DatabaseNoPrimary', 'DatabaseReplicationLag'];
/** DatabaseReplicationLag's expression without its threshold: bytes of WAL each replica has not replayed. */
const REPLAY_LAG_BYTES =
  'max by (scope) (patroni_xlog_location and on (job, instance) (patroni_primary == 1))' +
  ' - on (scope) group_right () (patroni_xlog_replayed_location and on (job, instance) (patroni_replica == 1))';

let stack: StackInfo;

async function prometheusApi<T>(path: string): Promise<T> {
  const res = await fetch(`${stack.prometheus}${path}`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: T }).data;
}

async function query(expr: string): Promise<Sample[]> {
  return (await prometheusApi<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result;
}

async function patroniTargets(): Promise<Target[]> {
  const { activeTargets } = await prometheusApi<{ activeTargets: Target[] }>('/api/v1/targets');
  return activeTargets.filter((t) => t.labels.job === 'patroni');
}

describe('database monitoring from Patroni (e2e)', { timeout: 120_000 }, () => {
  beforeAll(() => {
    stack = readStack();
    if (!stack.prometheus) throw new Error('the test stack should run Prometheus');
  });

  it("should scrape every node's Patroni and find each one up", async () => {
    const targets = await pollUntil(
      () => patroniTargets(),
      (all) => all.length === 3 && all.every((t) => t.health === 'up'),
      { what: 'the three patroni targets to be up', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    expect(targets.map((t) => [t.labels.keyflow_instance, t.labels.instance]).sort()).toEqual(
      stack.patroni.map((url, i) => [`pg-${i + 1}`, new URL(url).host]),
    );
    expect(targets.map((t) => t.lastError)).toEqual(['', '', '']);
  });

  it('should count exactly one primary, the leader Patroni names', async () => {
    const primaries = await pollUntil(
      () => query('patroni_primary == 1'),
      (series) => series.length > 0,
      { what: 'a Patroni node to report itself primary', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    expect(primaries).toHaveLength(1);
    const count = await query('sum(patroni_primary)');
    expect(count.map((s) => Number(s.value[1]))).toEqual([1]);
    const [api] = stack.patroni;
    const res = await fetch(`${api}/cluster`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);
    const cluster = (await res.json()) as PatroniCluster;
    expect(primaries[0]?.metric['keyflow_instance']).toBe(cluster.members.find((m) => m.role === 'leader')?.name);
  });

  it("should measure each replica's replay lag in bytes, well under the alert's 64 MiB", async () => {
    const lags = await pollUntil(
      () => query(REPLAY_LAG_BYTES),
      (series) => series.length === 2,
      { what: 'a replay lag for both replicas', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const primary = (await query('patroni_primary == 1'))[0]?.metric['keyflow_instance'];
    expect(lags.map((s) => s.metric['keyflow_instance']).sort()).toEqual(
      ['pg-1', 'pg-2', 'pg-3'].filter((n) => n !== primary),
    );
    for (const lag of lags) {
      const bytes = Number(lag.value[1]);
      console.log(`[monitoring-database] ${lag.metric['keyflow_instance']} replay lag: ${bytes} bytes`);
      expect(Number.isFinite(bytes)).toBe(true);
      expect(bytes).toBeLessThan(64 * 1024 * 1024);
    }
  });

  it('should evaluate DatabaseNoPrimary and DatabaseReplicationLag on that data, neither pending nor firing', async () => {
    // Evaluations that started after Patroni's series were there: before, a quiet rule proves nothing.
    const since = Date.now();
    await pollUntil(
      () => query('patroni_primary'),
      (series) => series.length === 3,
      { what: 'patroni_primary from all three nodes', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const groups = await pollUntil(
      async () => (await prometheusApi<{ groups: RuleGroup[] }>('/api/v1/rules?type=alert')).groups,
      (all) => {
        const group = all.find((g) => g.rules.some((r) => r.name === 'DatabaseNoPrimary'));
        return group !== undefined && Date.parse(group.lastEvaluation) > since;
      },
      { what: 'the database alert rules to be evaluated again', timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const rules = groups.flatMap((g) => g.rules).filter((r) => DATABASE_ALERTS.includes(r.name));
    expect(rules.map((r) => ({ name: r.name, health: r.health, lastError: r.lastError ?? '' }))).toEqual(
      DATABASE_ALERTS.map((name) => ({ name, health: 'ok', lastError: '' })),
    );
    const { alerts } = await prometheusApi<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(
      '/api/v1/alerts',
    );
    expect(alerts.filter((a) => DATABASE_ALERTS.includes(a.labels['alertname'] ?? ''))).toEqual([]);
  });
});
