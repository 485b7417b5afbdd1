import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS_PANELS, type MetricsPanelName } from './admin-metrics.constant';

/**
 * The panels' PromQL, evaluated by Prometheus's own engine: `promtool test rules` over series shaped as keyflow's
 * exporters name and label them. Each query becomes a recording rule (rules and tests are written as JSON, which is
 * YAML), so a query that does not parse, or that answers other series than the console expects, fails here.
 */
const dir = mkdtempSync(join(tmpdir(), 'keyflow-admin-metrics-'));
const record = (name: MetricsPanelName): string => `keyflow_console:${name}`;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('METRICS_PANELS queries', () => {
  it('should answer per instance, per queue group and per replication slot as promtool evaluates them', async () => {
    const requests = (instance: string, status: string, perInterval: number) => ({
      series: `keyflow_http_request_duration_seconds_count{job="keyflow-api",keyflow_instance="${instance}",status="${status}",route="/v1/kv/:key"}`,
      values: `0+${perInterval}x10`,
    });
    writeFileSync(
      join(dir, 'panels.yml'),
      JSON.stringify({
        groups: [
          { name: 'panels', rules: METRICS_PANELS.map((p) => ({ record: record(p.name), expr: p.query('60s') })) },
        ],
      }),
    );
    writeFileSync(
      join(dir, 'panels.test.yml'),
      JSON.stringify({
        rule_files: ['panels.yml'],
        evaluation_interval: '15s',
        tests: [
          {
            interval: '15s',
            input_series: [
              requests('api-1', '200', 60),
              requests('api-2', '200', 45),
              requests('api-2', '503', 15),
              // Both workers report every queue: each queue counts once.
              { series: 'keyflow_queue_depth{queue="kv.shard.0",keyflow_instance="worker-1"}', values: '3x10' },
              { series: 'keyflow_queue_depth{queue="kv.shard.0",keyflow_instance="worker-2"}', values: '3x10' },
              { series: 'keyflow_queue_depth{queue="kv.shard.1",keyflow_instance="worker-1"}', values: '4x10' },
              { series: 'keyflow_queue_depth{queue="kv.dead-letter",keyflow_instance="worker-1"}', values: '2x10' },
              { series: 'pg_replication_slots_pg_wal_lsn_diff{server="pg-2",slot_name="pg_1"}', values: '8192x10' },
              { series: 'pg_replication_slots_active{server="pg-2",slot_name="pg_1"}', values: '1x10' },
              // A slot nobody streams from is not lag.
              { series: 'pg_replication_slots_pg_wal_lsn_diff{server="pg-1",slot_name="pg_3"}', values: '999x10' },
              { series: 'pg_replication_slots_active{server="pg-1",slot_name="pg_3"}', values: '0x10' },
              { series: 'up{job="redis",instance="redis://a"}', values: '1x10' },
              { series: 'up{job="redis",instance="redis://b"}', values: '0x10' },
            ],
            promql_expr_test: [
              {
                expr: record('requestRate'),
                eval_time: '2m',
                exp_samples: [
                  { labels: `${record('requestRate')}{keyflow_instance="api-1"}`, value: 4 },
                  { labels: `${record('requestRate')}{keyflow_instance="api-2"}`, value: 4 },
                ],
              },
              {
                // api-1 never answered a 5xx: 0, not absent.
                expr: record('errorRatio'),
                eval_time: '2m',
                exp_samples: [
                  { labels: `${record('errorRatio')}{keyflow_instance="api-1"}`, value: 0 },
                  { labels: `${record('errorRatio')}{keyflow_instance="api-2"}`, value: 0.25 },
                ],
              },
              {
                expr: record('shardBacklog'),
                eval_time: '2m',
                exp_samples: [
                  { labels: `${record('shardBacklog')}{series="shards"}`, value: 7 },
                  { labels: `${record('shardBacklog')}{series="dead letters"}`, value: 2 },
                ],
              },
              {
                expr: record('replicationLag'),
                eval_time: '2m',
                exp_samples: [{ labels: `${record('replicationLag')}{slot_name="pg_1"}`, value: 8192 }],
              },
              {
                expr: record('instancesUp'),
                eval_time: '2m',
                exp_samples: [{ labels: `${record('instancesUp')}{job="redis"}`, value: 1 }],
              },
            ],
          },
        ],
      }),
    );
    const { stdout, stderr } = await promisify(execFile)('promtool', ['test', 'rules', join(dir, 'panels.test.yml')], {
      timeout: 30_000,
    }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? '' }));
    expect(`${stdout}${stderr}`).toContain('SUCCESS');
  });
});
