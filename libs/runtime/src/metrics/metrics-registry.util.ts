import type { Pool } from 'pg';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';

/** What the pool gauge reads of a `pg` pool. */
export type PoolCounts = Pick<Pool, 'totalCount' | 'idleCount' | 'waitingCount'>;

/**
 * A process's Prometheus registry with what every keyflow process reports: the process defaults (RSS, heap,
 * event-loop lag), `keyflow_db_pool_connections` by pool (`write`, `read`) and state, and `instance_name` on
 * every series. The app adds its own metrics to it and serves it on `/metrics`.
 */
export function createMetricsRegistry(instance: string, pools: Record<string, PoolCounts>): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ instance_name: instance });
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'keyflow_db_pool_connections',
    help: 'Database pool connections by pool and state',
    labelNames: ['pool', 'state'],
    registers: [registry],
    collect() {
      for (const [name, pool] of Object.entries(pools)) {
        this.set({ pool: name, state: 'total' }, pool.totalCount);
        this.set({ pool: name, state: 'idle' }, pool.idleCount);
        this.set({ pool: name, state: 'waiting' }, pool.waitingCount);
      }
    },
  });
  return registry;
}
