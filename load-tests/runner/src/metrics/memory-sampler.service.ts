import Redis from 'ioredis';
import type { ThresholdResult } from './threshold.util';
import { readRssKiB } from './rss-sampler.service';

/** One figure to follow: a Redis master's `used_memory`, or a process's RSS, in bytes. */
export interface MemoryProbe {
  name: string;
  kind: 'redis' | 'process';
  /** The current figure; undefined when it cannot be read now (a node failing over, a process restarting). */
  read(): Promise<number | undefined>;
  close?(): void;
}

export interface MemorySeries {
  name: string;
  kind: MemoryProbe['kind'];
  samples: number;
  firstBytes: number | null;
  /** The first sample at or after the middle of the run: the steady state the second half is compared with. */
  halfBytes: number | null;
  lastBytes: number | null;
  maxBytes: number | null;
  /** (max over the second half − halfBytes) / halfBytes. */
  growthRatio: number | null;
}

export interface MemoryReport {
  intervalMs: number;
  maxGrowthRatio: number;
  series: MemorySeries[];
}

/** A Redis ACL login (`stack.json`: `credentials.redis.admin`; INFO and ROLE are beyond the apps' user). */
export interface RedisLogin {
  username: string;
  password: string;
}

/**
 * A client of one Redis node (`host:port`), not of the cluster: what the runner reads (`INFO`, `ROLE`) is per node.
 * It connects on first use, gives up a command after one retry, and keeps errors to the commands that hit them.
 */
export function redisNodeClient(node: string, login?: RedisLogin): Redis {
  const at = node.lastIndexOf(':');
  const client = new Redis({
    host: node.slice(0, at),
    port: Number(node.slice(at + 1)),
    ...(login ? { username: login.username, password: login.password } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
  });
  client.on('error', () => undefined);
  return client;
}

/** Parses `used_memory:<bytes>` out of `INFO memory`. */
export function parseUsedMemory(info: string): number | undefined {
  const match = /^used_memory:(\d+)\r?$/m.exec(info);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * A probe per Redis node (`host:port`) that reads `INFO memory` while the node is a master; replicas hold the
 * same data and are skipped (a node that changes role during the run is followed while it is a master).
 */
export function redisMasterProbes(nodes: readonly string[], login?: RedisLogin): MemoryProbe[] {
  return nodes.map((node) => {
    const client = redisNodeClient(node, login);
    return {
      name: `redis ${node}`,
      kind: 'redis' as const,
      read: async () => {
        try {
          const [role] = (await client.role()) as [string];
          return role === 'master' ? parseUsedMemory(await client.info('memory')) : undefined;
        } catch {
          return undefined;
        }
      },
      close: () => client.disconnect(),
    };
  });
}

export function processProbes(processes: ReadonlyArray<{ name: string; pid: number }>, procRoot = '/proc') {
  return processes.map((p): MemoryProbe => ({
    name: `${p.name} (${p.pid})`,
    kind: 'process',
    read: async () => {
      const kib = await readRssKiB(p.pid, procRoot);
      return kib === undefined ? undefined : kib * 1024;
    },
  }));
}

/**
 * Samples memory figures during a long run, to show whether memory stays flat: the first half of the load fills
 * caches and TTL-bounded records (operation records, idempotency claims) up to their steady state; over the
 * second half none may grow by more than `maxGrowthRatio`.
 */
export class MemorySampler {
  private readonly samples: Array<Array<{ atMs: number; bytes: number }>>;
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private startedAt = 0;

  constructor(
    private readonly probes: readonly MemoryProbe[],
    private readonly options: { intervalMs: number; maxGrowthRatio: number },
    private readonly now: () => number = Date.now,
  ) {
    this.samples = probes.map(() => []);
  }

  async start(): Promise<void> {
    this.startedAt = this.now();
    this.sampling = this.sampleOnce();
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sampleOnce());
    }, this.options.intervalMs);
    this.timer.unref();
    await this.sampling;
  }

  async stop(): Promise<MemoryReport> {
    clearInterval(this.timer);
    await this.sampling;
    await this.sampleOnce();
    const halfAt = this.startedAt + (this.now() - this.startedAt) / 2;
    for (const probe of this.probes) probe.close?.();
    return {
      intervalMs: this.options.intervalMs,
      maxGrowthRatio: this.options.maxGrowthRatio,
      series: this.probes.map((probe, i) => summarise(probe, this.samples[i] ?? [], halfAt)),
    };
  }

  /** `sampleOnce` is public for tests that drive time themselves. */
  async sampleOnce(): Promise<void> {
    const atMs = this.now();
    const values = await Promise.all(this.probes.map((p) => p.read()));
    values.forEach((bytes, i) => {
      if (bytes !== undefined) this.samples[i]?.push({ atMs, bytes });
    });
  }
}

function summarise(probe: MemoryProbe, samples: Array<{ atMs: number; bytes: number }>, halfAt: number) {
  const secondHalf = samples.filter((s) => s.atMs >= halfAt);
  const half = secondHalf[0]?.bytes ?? null;
  const maxLater = secondHalf.length > 1 ? Math.max(...secondHalf.map((s) => s.bytes)) : null;
  return {
    name: probe.name,
    kind: probe.kind,
    samples: samples.length,
    firstBytes: samples[0]?.bytes ?? null,
    halfBytes: half,
    lastBytes: samples.at(-1)?.bytes ?? null,
    maxBytes: samples.length > 0 ? Math.max(...samples.map((s) => s.bytes)) : null,
    growthRatio: half !== null && half > 0 && maxLater !== null ? (maxLater - half) / half : null,
  } satisfies MemorySeries;
}

/** The memory check as a threshold line: the largest second-half growth of any series against the limit. */
export function memoryThreshold(report: MemoryReport): ThresholdResult {
  const expression = `growth<=${(report.maxGrowthRatio * 100).toFixed(0)}% over the second half`;
  const measured = report.series.filter((s) => s.growthRatio !== null);
  if (measured.length === 0) {
    return { metric: 'memory', expression, status: 'no-data', actual: null, note: 'too few samples' };
  }
  const worst = measured.reduce((a, b) => ((b.growthRatio ?? 0) > (a.growthRatio ?? 0) ? b : a));
  const actual = worst.growthRatio ?? 0;
  return {
    metric: 'memory',
    expression,
    status: actual <= report.maxGrowthRatio ? 'pass' : 'fail',
    actual,
    note: `${measured.length} series; most growth: ${worst.name}`,
  };
}
