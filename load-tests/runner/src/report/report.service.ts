import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import type { BaselineResult } from '../baseline/baseline.service';
import type { ScenarioResult } from '../load/scenario-runner.service';
import { formatMarkdown, summaryRows } from './report-format.util';
import type { TargetsReport } from '../targets/targets.dto';
import type { BenchReport, HostInfo, ScenarioFailure } from './report.dto';

export interface ReportInput {
  startedAt: Date;
  finishedAt: Date;
  command: string;
  target: string;
  scale: number;
  strict: boolean;
  baseline: BaselineResult | null;
  baselineError: string | null;
  scenarios: ScenarioResult[];
  failures: ScenarioFailure[];
  /** Issue 14's targets, when measured. */
  targets?: TargetsReport | null;
}

export interface WrittenReport {
  json: string;
  markdown: string;
}

export function hostInfo(): HostInfo {
  const cpuList = cpus();
  return {
    hostname: hostname(),
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    totalMemoryMiB: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    loadAverage: loadavg(),
  };
}

/** `2025-01-31T12-34-56Z`: sortable and safe in file names. */
export function fileTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-');
}

/** Builds the report and writes `<out>/<timestamp>-report.json|.md` plus `latest.json` / `latest.md`. */
export class ReportService {
  build(input: ReportInput, host: HostInfo = hostInfo()): BenchReport {
    const passed =
      input.failures.length === 0 &&
      input.baselineError === null &&
      input.scenarios.every((s) => s.passed) &&
      (input.targets?.failures.length ?? 0) === 0;
    return {
      tool: 'keyflow-bench',
      formatVersion: 1,
      startedAt: input.startedAt.toISOString(),
      finishedAt: input.finishedAt.toISOString(),
      command: input.command,
      target: input.target,
      scale: input.scale,
      strict: input.strict,
      host,
      baseline: input.baseline,
      baselineError: input.baselineError,
      scenarios: input.scenarios,
      failures: input.failures,
      rows: summaryRows(input.baseline, input.scenarios),
      targets: input.targets ?? null,
      passed,
    };
  }

  async write(report: BenchReport, outDir: string): Promise<WrittenReport> {
    await mkdir(outDir, { recursive: true });
    const stem = join(outDir, `${fileTimestamp(new Date(report.startedAt))}-report`);
    const json = `${stem}.json`;
    const markdown = `${stem}.md`;
    await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(markdown, formatMarkdown(report));
    await copyFile(json, join(outDir, 'latest.json'));
    await copyFile(markdown, join(outDir, 'latest.md'));
    return { json, markdown };
  }
}
