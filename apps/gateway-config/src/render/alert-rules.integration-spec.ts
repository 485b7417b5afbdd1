import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { ALERT_RULES_FILE } from './render.constant';
import { TEMPLATES_DIR } from './templates.util';
import { runCommand } from '../testing/processes.util';

/** keyflow's alert rules, checked and unit-tested by Prometheus's own tool, and the Grafana dashboard beside them. */
const MONITORING_DIR = join(TEMPLATES_DIR, 'monitoring');

describe('keyflow-alerts.yml', () => {
  it('should pass promtool check rules with every alert the operators rely on', async () => {
    const check = await runCommand('promtool', ['check', 'rules', join(MONITORING_DIR, ALERT_RULES_FILE)]);
    expect(check.stdout).toContain('SUCCESS: 8 rules found');
    expect(check.code).toBe(0);
    const names = [...readFileSync(join(MONITORING_DIR, ALERT_RULES_FILE), 'utf8').matchAll(/- alert: (\w+)/g)].map(
      (m) => m[1],
    );
    expect(names).toEqual([
      'InstanceDown',
      'RedisClusterNotOk',
      'DatabaseNoPrimary',
      'DatabaseReplicationLag',
      'ShardBacklogGrowing',
      'WriteVisibilityTooSlow',
      'DeadLettersPresent',
      'ApiErrorRateHigh',
    ]);
  });

  it("should read the database's leader and replication lag from Patroni, which every Patroni 3 exports", () => {
    // Debian's prometheus-postgres-exporter 0.11 has no pg_replication_is_replica nor pg_replication_lag: a rule on
    // them never fires, or (with `or vector(0)`) always does.
    const { groups } = parseYaml(readFileSync(join(MONITORING_DIR, ALERT_RULES_FILE), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const expr = Object.fromEntries(groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]));
    expect(Object.values(expr).filter((e) => /pg_replication_(is_replica|lag)/.test(e))).toEqual([]);
    expect(expr['DatabaseNoPrimary']).toBe('sum by (scope) (patroni_primary) < 1');
    expect(expr['DatabaseReplicationLag']).toMatch(/patroni_xlog_location[\s\S]+patroni_xlog_replayed_location/);
  });

  it('should fire and stay quiet as its promtool unit tests say', async () => {
    // promtool finds rule_files relative to the test file.
    const test = await runCommand('promtool', ['test', 'rules', join(MONITORING_DIR, 'keyflow-alerts.test.yml')]);
    expect(`${test.stdout}${test.stderr}`).toContain('SUCCESS');
    expect(test.code).toBe(0);
  });
});

describe('deploy/grafana/keyflow-dashboard.json', () => {
  it('should be a Grafana dashboard whose every panel queries Prometheus', () => {
    const file = join(__dirname, '../../../../deploy/grafana/keyflow-dashboard.json');
    const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
      uid?: string;
      title?: string;
      schemaVersion?: number;
      panels?: Array<{ id?: number; type?: string; title?: string; targets?: Array<{ expr?: string }> }>;
    };
    expect(dashboard).toMatchObject({ uid: expect.any(String), title: expect.any(String) });
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const panels = dashboard.panels ?? [];
    expect(panels.length).toBeGreaterThan(0);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const panel of panels) {
      expect(panel, JSON.stringify(panel.title)).toMatchObject({ type: expect.any(String), title: expect.any(String) });
      expect(panel.targets?.every((t) => typeof t.expr === 'string' && t.expr.length > 0)).toBe(true);
    }
  });
});
