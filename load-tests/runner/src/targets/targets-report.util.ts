import { describeTargetCpu, formatTargetsMarkdown } from './targets-table.util';
import type { TargetRun, TargetsReport } from './targets.dto';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number | null): string => (n === null ? '—' : n < 10 ? n.toFixed(2) : n < 1000 ? n.toFixed(1) : int(n));

function escape(cell: string): string {
  return cell.replace(/\|/g, '\\|');
}

function drainText(run: TargetRun): string {
  const d = run.drain;
  if (d === null) return '';
  let queues: string;
  if (d.queues === null) queues = `queues not read (${d.queuesError ?? 'unknown'})`;
  else if (d.queues.drainedAfterMs === null) queues = `queues still ${int(d.queues.lastMessages)} msgs at the timeout`;
  else if (d.queues.initialMessages === 0) queues = 'queues empty at the first sample';
  else queues = `management API: ${int(d.queues.initialMessages)} msgs → 0 after ${ms(d.queues.drainedAfterMs)} ms`;
  const covered = d.shardQueues === null ? '' : ` on all ${d.shardQueues} shard queues`;
  const markers =
    `${d.markers} markers${covered} read back after ${ms(d.markersMaxMs)} ms` +
    (d.markersPending > 0 ? `, ${d.markersPending} never` : '');
  return `${d.drainedAfterMs === null ? 'not drained' : `${ms(d.drainedAfterMs)} ms`} (${markers}; ${queues})`;
}

function errorsText(run: TargetRun): string {
  if (run.errors === 0) return '0';
  const detail = Object.entries(run.errorDetail)
    .map(([reason, n]) => `${reason}: ${int(n)}`)
    .join(', ');
  return detail === '' ? int(run.errors) : `${int(run.errors)} (${detail})`;
}

/** The report's section on issue 14's targets: the table, then every run behind it with its CPU per tier. */
export function formatTargetsSection(targets: TargetsReport): string {
  const out: string[] = ["## Issue 14's targets", ''];
  out.push(
    'Measured in this run on the same gateway, by the Node runner and by wrk ' +
      (targets.wrk.version !== null ? `(${targets.wrk.version})` : `(not run: ${targets.wrk.skipped ?? 'unknown'})`) +
      '. ✅ meets the target, ❌ does not; "met?" is pass only when every tool that measured the row meets it. ' +
      'CPU per accepted write is the CPU time of every stack tier (from the start of the load until the shard ' +
      "queues were drained) divided by the writes the service accepted; the load generator's own CPU is not in it.",
    '',
    formatTargetsMarkdown(targets.rows),
    '',
  );
  if (targets.runs.length > 0) {
    const header = [
      'tool',
      'profile',
      'req/s',
      'p50 ms',
      'p99 ms',
      'max ms',
      'errors',
      'accepted writes',
      'CPU/write ms',
      'API max RSS MiB',
      'drained after',
    ];
    out.push(
      `| ${header.join(' | ')} |`,
      `| ${header.map(() => '---').join(' | ')} |`,
      ...targets.runs.map(
        (r) =>
          `| ${[
            r.tool,
            r.profile,
            int(r.rps),
            ms(r.p50Ms),
            ms(r.p99Ms),
            ms(r.maxMs),
            errorsText(r),
            r.acceptedWrites === null ? '' : int(r.acceptedWrites),
            r.cpuPerWriteMs === null ? '' : r.cpuPerWriteMs.toFixed(2),
            r.apiMaxRssMiB === null ? '—' : r.apiMaxRssMiB.toFixed(0),
            drainText(r),
          ]
            .map(escape)
            .join(' | ')} |`,
      ),
      '',
      'CPU per tier (% of one core over each run; write runs until the queues were drained):',
      '',
      ...targets.runs.map((r) => `- ${describeTargetCpu(r)}`),
      '',
      'Commands:',
      '',
      ...targets.runs.map((r) => `- ${r.tool} ${r.profile}: \`${r.command}\``),
      '',
    );
  }
  if (targets.failures.length > 0) {
    out.push('Runs that did not complete:', '');
    for (const f of targets.failures) out.push(`- **${f.tool} ${f.profile}**: ${f.error}`);
    out.push('');
  }
  return out.join('\n');
}
