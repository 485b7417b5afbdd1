/**
 * The servers' own accounts of a write run (issue 14: "profile each tier"), as differences between two snapshots:
 * Redis `INFO commandstats`, PostgreSQL `pg_stat_statements`, RabbitMQ's I/O counters from the management API and
 * `rabbitmq-diagnostics runtime_thread_stats`. Pure functions; `ServerProfiler` takes the snapshots.
 */

/** One Redis command's counters (`cmdstat_<name>:calls=…,usec=…`). */
export interface RedisCommandStat {
  command: string;
  calls: number;
  usec: number;
}

/** One statement's counters in `pg_stat_statements`, keyed by its query id. */
export interface StatementStat {
  queryId: string;
  query: string;
  calls: number;
  totalMs: number;
  rows: number;
}

/** A RabbitMQ node's cumulative I/O counters (`GET /api/nodes`). */
export interface RabbitIoStat {
  node: string;
  fsyncs: number;
  writes: number;
  writeBytes: number;
}

/** `rabbitmq-diagnostics runtime_thread_stats`: per thread type, the share of time in each state, in percent. */
export type ThreadTypeStats = Record<string, Record<string, number>>;

/** Parses `INFO commandstats`: every `cmdstat_<name>` line. */
export function parseCommandStats(info: string): RedisCommandStat[] {
  const stats: RedisCommandStat[] = [];
  for (const line of info.split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):(.*)$/.exec(line);
    if (match === null) continue;
    const fields = Object.fromEntries(match[2].split(',').map((pair) => pair.split('=') as [string, string]));
    stats.push({ command: match[1], calls: Number(fields.calls ?? 0), usec: Number(fields.usec ?? 0) });
  }
  return stats;
}

/**
 * What happened between two snapshots of counters keyed by `keyOf`: `after − before` per key, entries that did not
 * move left out. A key missing before counts from zero (a statement first seen during the run); a counter that went
 * down was reset (a server restarted) and counts from zero too.
 */
export function counterDelta<T>(
  before: readonly T[],
  after: readonly T[],
  keyOf: (item: T) => string,
  fields: ReadonlyArray<keyof T & string>,
): T[] {
  const earlier = new Map(before.map((item) => [keyOf(item), item]));
  const moved: T[] = [];
  for (const item of after) {
    const base = earlier.get(keyOf(item));
    const delta = { ...item };
    let changed = false;
    for (const field of fields) {
      const now = item[field] as number;
      const then = (base?.[field] as number | undefined) ?? 0;
      const diff = now >= then ? now - then : now;
      (delta as Record<string, unknown>)[field] = diff;
      if (diff !== 0) changed = true;
    }
    if (changed) moved.push(delta);
  }
  return moved;
}

/** Sums counters of the same key (the same command on several Redis nodes). */
export function sumByKey<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  fields: ReadonlyArray<keyof T & string>,
): T[] {
  const sums = new Map<string, T>();
  for (const item of items) {
    const key = keyOf(item);
    const sum = sums.get(key);
    if (sum === undefined) {
      sums.set(key, { ...item });
      continue;
    }
    const counters = sum as Record<string, unknown>;
    for (const field of fields) counters[field] = (counters[field] as number) + (item[field] as number);
  }
  return [...sums.values()];
}

/**
 * Parses the "Stats per type" table of `rabbitmq-diagnostics runtime_thread_stats`: a header line naming the
 * states (`Thread aux check_io emulator gc other port sleep`) and one line per thread type with a percentage each.
 */
export function parseRuntimeThreadStats(text: string): ThreadTypeStats {
  const lines = text.split(/\r?\n/);
  const header = lines.find((line) => /^\s*Thread\s+\S+/.test(line));
  const perType = lines.findIndex((line) => /^\s*Stats per type:/.test(line));
  if (header === undefined || perType < 0) return {};
  const states = header.trim().split(/\s+/).slice(1);
  const stats: ThreadTypeStats = {};
  for (const line of lines.slice(perType + 1)) {
    const match = /^\s*(\S+)\s+((?:[\d.]+%\s*)+)$/.exec(line);
    if (match === null) continue;
    const values = match[2]
      .trim()
      .split(/\s+/)
      .map((v) => Number(v.replace('%', '')));
    if (values.length !== states.length) continue;
    stats[match[1]] = Object.fromEntries(states.map((state, i) => [state, values[i]]));
  }
  return stats;
}

/** A statement's text on one line, shortened: enough to recognise it in a table. */
export function shortQuery(query: string, max = 90): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

const fixed = (n: number, digits = 2): string => n.toFixed(digits);

/**
 * The profile as log lines, per accepted write where that is what compares across designs: Redis commands and
 * their server time, each statement's calls and time, RabbitMQ's fsyncs and bytes written (summed over the nodes:
 * each quorum replica writes its own copy), and where the brokers' scheduler threads spent their time.
 */
export function describeServerProfile(
  label: string,
  profile: {
    redis: { commands: RedisCommandStat[] } | { error: string };
    postgres: { statements: StatementStat[] } | { error: string };
    rabbitmq: { io: RabbitIoStat[]; threads: Record<string, ThreadTypeStats | string> } | { error: string };
  },
  acceptedWrites: number,
): string[] {
  const per = Math.max(1, acceptedWrites);
  const lines: string[] = [];
  if ('error' in profile.redis) lines.push(`[profile ${label}] redis: ${profile.redis.error}`);
  else {
    const commands = [...profile.redis.commands].sort((a, b) => b.usec - a.usec);
    const calls = commands.reduce((sum, c) => sum + c.calls, 0);
    const usec = commands.reduce((sum, c) => sum + c.usec, 0);
    const top = commands
      .slice(0, 6)
      .map((c) => `${c.command} ${fixed(c.calls / per)} (${fixed(c.usec / per, 1)} µs)`)
      .join(', ');
    lines.push(
      `[profile ${label}] redis, every node: ${fixed(calls / per)} commands and ${fixed(usec / per, 1)} µs of ` +
        `server time per write; by time: ${top}`,
    );
  }
  if ('error' in profile.postgres) lines.push(`[profile ${label}] postgres: ${profile.postgres.error}`);
  else {
    const totalMs = profile.postgres.statements.reduce((sum, s) => sum + s.totalMs, 0);
    lines.push(`[profile ${label}] postgres primary: ${fixed(totalMs / per, 3)} ms of statement time per write; top:`);
    for (const s of profile.postgres.statements) {
      lines.push(
        `[profile ${label}]   ${fixed(s.totalMs / per, 3)} ms/write, ${s.calls} calls of ${fixed(s.totalMs / Math.max(1, s.calls), 2)} ms, ` +
          `${fixed(s.rows / Math.max(1, s.calls), 1)} rows/call: ${shortQuery(s.query)}`,
      );
    }
  }
  if ('error' in profile.rabbitmq) lines.push(`[profile ${label}] rabbitmq: ${profile.rabbitmq.error}`);
  else {
    const fsyncs = profile.rabbitmq.io.reduce((sum, n) => sum + n.fsyncs, 0);
    const bytes = profile.rabbitmq.io.reduce((sum, n) => sum + n.writeBytes, 0);
    lines.push(
      `[profile ${label}] rabbitmq, all nodes: ${fixed(fsyncs / per, 3)} fsyncs and ${fixed(bytes / per / 1024, 2)} KiB ` +
        `written per write`,
    );
    for (const [node, stats] of Object.entries(profile.rabbitmq.threads)) {
      if (typeof stats === 'string') {
        lines.push(`[profile ${label}]   ${node} threads: ${stats}`);
        continue;
      }
      const scheduler = stats.scheduler;
      const states = scheduler
        ? Object.entries(scheduler)
            .filter(([, pct]) => pct >= 0.5)
            .map(([state, pct]) => `${state} ${fixed(pct, 1)} %`)
            .join(', ')
        : 'no scheduler row';
      lines.push(`[profile ${label}]   ${node} schedulers: ${states}`);
    }
  }
  return lines;
}
