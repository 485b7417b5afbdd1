import { readFile } from 'node:fs/promises';

export interface SampledProcess {
  name: string;
  pid: number;
}

export interface ProcessRss {
  name: string;
  pid: number;
  samples: number;
  firstKiB: number | null;
  lastKiB: number | null;
  maxKiB: number | null;
}

export interface RssReport {
  intervalMs: number;
  processes: ProcessRss[];
  /** Largest RSS any one process reached. */
  maxKiB: number | null;
  /** Largest sum over all processes at one sampling instant. */
  maxTotalKiB: number | null;
}

/** Reads VmRSS (KiB) from `/proc/<pid>/status`; undefined when the process is gone or the field missing. */
export async function readRssKiB(pid: number, procRoot = '/proc'): Promise<number | undefined> {
  try {
    const status = await readFile(`${procRoot}/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * Samples the resident memory of a set of processes (the API instances) while a scenario runs, so the report can
 * show how much memory the load cost and whether it kept growing (first vs last sample).
 */
export class RssSampler {
  private readonly stats: ProcessRss[];
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> = Promise.resolve();
  private maxTotalKiB: number | null = null;

  constructor(
    processes: readonly SampledProcess[],
    private readonly intervalMs = 500,
    private readonly procRoot = '/proc',
  ) {
    this.stats = processes.map((p) => ({
      name: p.name,
      pid: p.pid,
      samples: 0,
      firstKiB: null,
      lastKiB: null,
      maxKiB: null,
    }));
  }

  /** Takes the first sample (resolved when it is taken), then one every `intervalMs` until `stop`. */
  async start(): Promise<void> {
    if (this.stats.length === 0 || this.timer !== undefined) return;
    this.sampling = this.sampleOnce();
    this.timer = setInterval(() => {
      this.sampling = this.sampling.then(() => this.sampleOnce());
    }, this.intervalMs);
    this.timer.unref();
    await this.sampling;
  }

  async stop(): Promise<RssReport> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.sampling;
    await this.sampleOnce();
    return this.report();
  }

  report(): RssReport {
    const maxes = this.stats.map((s) => s.maxKiB).filter((v): v is number => v !== null);
    return {
      intervalMs: this.intervalMs,
      processes: this.stats.map((s) => ({ ...s })),
      maxKiB: maxes.length > 0 ? Math.max(...maxes) : null,
      maxTotalKiB: this.maxTotalKiB,
    };
  }

  private async sampleOnce(): Promise<void> {
    const values = await Promise.all(this.stats.map((s) => readRssKiB(s.pid, this.procRoot)));
    let total = 0;
    let any = false;
    values.forEach((kib, i) => {
      const s = this.stats[i];
      if (kib === undefined || s === undefined) return;
      any = true;
      total += kib;
      s.samples++;
      s.firstKiB ??= kib;
      s.lastKiB = kib;
      s.maxKiB = Math.max(s.maxKiB ?? 0, kib);
    });
    if (any) this.maxTotalKiB = Math.max(this.maxTotalKiB ?? 0, total);
  }
}
