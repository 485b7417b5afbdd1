import { readdir, readFile } from 'node:fs/promises';

/** A stack process and the tier it belongs to (`api`, `worker`, `rabbitmq`, `postgres`, …). */
export interface TierProcess {
  name: string;
  pid: number;
  tier: string;
}

export interface TierCpu {
  tier: string;
  /** CPU time over the load as a percentage of one core (both cores of a 2-core machine busy = 200). */
  percentOfCore: number;
  processes: number;
}

export interface CpuReport {
  durationS: number;
  cores: number;
  /** Busiest tier first. Each tier counts its processes and all their descendants (PostgreSQL backends, …). */
  tiers: TierCpu[];
  /** The load generator itself (this process). */
  loadGeneratorPercentOfCore: number;
  /** Busy time of the whole machine, % of all cores; null where /proc/stat is not readable. */
  machineBusyPercent: number | null;
}

/** Linux reports process CPU times in clock ticks of USER_HZ, which is 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

interface ProcEntry {
  ppid: number;
  /** utime + stime + cutime + cstime: a child that exits hands its time to its parent's c*time. */
  ticks: number;
}

/** Parses `/proc/<pid>/stat`; the command name may contain spaces and parentheses, so fields start after the last `)`. */
export function parseProcStat(stat: string): ProcEntry | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { ppid, ticks } : undefined;
}

async function readProcTable(procRoot: string): Promise<Map<number, ProcEntry>> {
  const table = new Map<number, ProcEntry>();
  const names = await readdir(procRoot).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const entry = await readFile(`${procRoot}/${n}/stat`, 'utf8')
          .then(parseProcStat)
          .catch(() => undefined);
        if (entry) table.set(Number(n), entry);
      }),
  );
  return table;
}

/** Ticks of `pid` and every live descendant. */
export function treeTicks(table: Map<number, ProcEntry>, pid: number): number {
  const children = new Map<number, number[]>();
  for (const [child, { ppid }] of table) children.set(ppid, [...(children.get(ppid) ?? []), child]);
  let ticks = 0;
  const todo = [pid];
  const seen = new Set<number>();
  while (todo.length > 0) {
    const next = todo.pop() as number;
    if (seen.has(next)) continue;
    seen.add(next);
    ticks += table.get(next)?.ticks ?? 0;
    todo.push(...(children.get(next) ?? []));
  }
  return ticks;
}

/** `[busy, total]` jiffies of all cores from the first line of `/proc/stat` (idle and iowait count as not busy). */
export function parseMachineStat(stat: string): [number, number] | undefined {
  const line = stat.split('\n')[0] ?? '';
  if (!line.startsWith('cpu ')) return undefined;
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return [total - (v[3] ?? 0) - (v[4] ?? 0), total];
}

interface Snapshot {
  at: number;
  perProcess: Map<string, number>;
  machine: [number, number] | undefined;
  self: NodeJS.CpuUsage;
}

/**
 * Measures where the machine's CPU went during a scenario, per tier of the stack: the profile that says which
 * tier bounds a figure (on a 2-core machine, a tier at 60 % of a core while the machine is 95 % busy is the
 * one to look at). Two snapshots of `/proc`, at the start and the end of the load.
 */
export class CpuSampler {
  private first: Snapshot | undefined;

  constructor(
    private readonly processes: readonly TierProcess[],
    private readonly cores: number,
    private readonly procRoot = '/proc',
  ) {}

  async start(): Promise<void> {
    this.first = await this.snapshot();
  }

  async stop(): Promise<CpuReport | null> {
    const first = this.first;
    if (!first) return null;
    const last = await this.snapshot();
    const seconds = Math.max(0.001, (last.at - first.at) / 1000);
    const percent = (ticks: number): number => (ticks / TICKS_PER_SECOND / seconds) * 100;
    const byTier = new Map<string, TierCpu>();
    for (const p of this.processes) {
      const before = first.perProcess.get(p.name);
      const after = last.perProcess.get(p.name);
      const tier = byTier.get(p.tier) ?? { tier: p.tier, percentOfCore: 0, processes: 0 };
      tier.processes += 1;
      if (before !== undefined && after !== undefined) tier.percentOfCore += percent(Math.max(0, after - before));
      byTier.set(p.tier, tier);
    }
    const selfMicros = last.self.user + last.self.system - first.self.user - first.self.system;
    const machine =
      first.machine && last.machine && last.machine[1] > first.machine[1]
        ? ((last.machine[0] - first.machine[0]) / (last.machine[1] - first.machine[1])) * 100
        : null;
    return {
      durationS: seconds,
      cores: this.cores,
      tiers: [...byTier.values()]
        .map((t) => ({ ...t, percentOfCore: round1(t.percentOfCore) }))
        .sort((a, b) => b.percentOfCore - a.percentOfCore),
      loadGeneratorPercentOfCore: round1((selfMicros / 1e6 / seconds) * 100),
      machineBusyPercent: machine === null ? null : round1(machine),
    };
  }

  private async snapshot(): Promise<Snapshot> {
    const table = await readProcTable(this.procRoot);
    const perProcess = new Map<string, number>();
    for (const p of this.processes) if (table.has(p.pid)) perProcess.set(p.name, treeTicks(table, p.pid));
    const machine = await readFile(`${this.procRoot}/stat`, 'utf8')
      .then(parseMachineStat)
      .catch(() => undefined);
    return { at: Date.now(), perProcess, machine, self: process.cpuUsage() };
  }
}

/** One line for the terminal: `CPU (% of one core): rabbitmq 59, api 35, … load generator 11; machine 96 % busy`. */
export function describeCpu(report: CpuReport): string {
  const tiers = report.tiers.map((t) => `${t.tier} ${t.percentOfCore.toFixed(0)}`).join(', ');
  const machine = report.machineBusyPercent === null ? '' : `; machine ${report.machineBusyPercent.toFixed(0)} % busy`;
  return `CPU (% of one core): ${tiers}, load generator ${report.loadGeneratorPercentOfCore.toFixed(0)}${machine} (${report.cores} cores)`;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
