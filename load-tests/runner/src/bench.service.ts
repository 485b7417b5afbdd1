import { BaselineService, type BaselineResult } from './baseline/baseline.service';
import { scenarioDefinitions, type CliOptions } from './cli/cli-options.util';
import { assertLoadableTarget } from './cli/loopback.util';
import { apiProcesses, appProcesses, readStackInfo, tierProcesses } from './cli/stack-info.util';
import { KeyflowClient, KeyflowProblem } from '@keyflow/client';
import { ScenarioRunner, type ScenarioResult } from './load/scenario-runner.service';
import { processProbes, redisMasterProbes } from './metrics/memory-sampler.service';
import { formatConsoleTable } from './report/report-format.util';
import type { BenchReport, ScenarioFailure } from './report/report.dto';
import { ReportService, type WrittenReport } from './report/report.service';
import { formatTargetsConsole } from './targets/targets-table.util';
import type { TargetsReport } from './targets/targets.dto';
import { TargetsService } from './targets/targets.service';

export const DEFAULT_TARGET = 'http://127.0.0.21:8080';

export interface BenchRun {
  report: BenchReport;
  files: WrittenReport;
  exitCode: number;
}

export class TargetUnreachableError extends Error {
  constructor(target: string, reason: string) {
    super(
      `${target} does not answer (${reason}). Is the stack up (npm start / npm run status)? ` +
        'Use --baseline-only to measure just the baseline.',
    );
    this.name = TargetUnreachableError.name;
  }
}

/**
 * One benchmark run: the baseline first (unless skipped), then each requested scenario in turn, then the reports.
 * A scenario that cannot run is recorded and the next one still runs. Exit code: 1 when something could not run
 * (or, with `--strict`, a threshold failed), else 0 — thresholds are findings, not errors.
 */
export class BenchService {
  constructor(
    private readonly scenarioRunner = new ScenarioRunner(),
    private readonly baselineService = new BaselineService(),
    private readonly reportService = new ReportService(),
    private readonly targetsService = new TargetsService(scenarioRunner),
  ) {}

  async run(
    options: CliOptions,
    context: { root: string; command: string; log: (line: string) => void; signal: AbortSignal },
  ): Promise<BenchRun> {
    const { log, signal } = context;
    const startedAt = new Date();
    const stack = readStackInfo(options.stackFile);
    const target = options.target ?? stack?.gateway ?? DEFAULT_TARGET;
    const token = options.token ?? stack?.token;
    if (!options.baselineOnly) assertLoadableTarget(target, options.allowRemote);

    let baseline: BaselineResult | null = null;
    let baselineError: string | null = null;
    if (!options.skipBaseline) {
      log(`baseline: ${options.baselineConnections} connections, GET ${options.baselineDurationMs / 1000} s`);
      try {
        baseline = await this.baselineService.run({
          connections: options.baselineConnections,
          getDurationMs: options.baselineDurationMs,
          putDurationMs: options.baselineDurationMs / 2,
          warmupMs: Math.min(2000, options.baselineDurationMs / 4),
          progressIntervalMs: options.progressIntervalMs,
          log,
          signal,
          cwd: context.root,
        });
      } catch (error: unknown) {
        baselineError = error instanceof Error ? error.message : String(error);
        log(`baseline failed: ${baselineError}`);
      }
    }

    const scenarios: ScenarioResult[] = [];
    const failures: ScenarioFailure[] = [];
    let targets: TargetsReport | null = null;
    if (!options.baselineOnly && !signal.aborted) {
      const definitions = scenarioDefinitions(options);
      const rssProcesses = apiProcesses(stack);
      log(
        `target ${target}${token ? ' (with bearer token)' : ''}, scale ${options.scale}, ` +
          `sampling RSS of ${rssProcesses.length > 0 ? rssProcesses.map((p) => `${p.name} (${p.pid})`).join(', ') : 'no API process'}`,
      );
      const reachable = await this.preflight(target, token);
      for (const name of options.scenarios) {
        if (signal.aborted) break;
        if (reachable !== true) {
          failures.push({ scenario: name, error: reachable.message });
          continue;
        }
        try {
          scenarios.push(
            await this.scenarioRunner.run(definitions[name], {
              target: { baseUrl: target, token },
              rssProcesses,
              memoryProbes: () => [
                ...redisMasterProbes(stack?.redis ?? [], stack?.credentials?.redis.admin),
                ...processProbes(appProcesses(stack)),
              ],
              cpuProcesses: tierProcesses(stack),
              baselineGetRps: baseline?.get.rps,
              progressIntervalMs: options.progressIntervalMs,
              log,
              signal,
            }),
          );
        } catch (error: unknown) {
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ scenario: name, error: message });
          log(`[${name}] could not run: ${message}`);
        }
      }
      if (reachable !== true) log(reachable.message);
      if (options.targets !== 'off' && !signal.aborted) {
        if (reachable === true) {
          targets = await this.targetsService.run({
            target,
            token,
            stack,
            scale: options.scale,
            definitions,
            existing: scenarios,
            runWrk: !options.skipWrk,
            progressIntervalMs: options.progressIntervalMs,
            log,
            signal,
          });
        } else {
          failures.push({ scenario: 'targets', error: reachable.message });
        }
      }
    }

    const report = this.reportService.build({
      startedAt,
      finishedAt: new Date(),
      command: context.command,
      target: options.baselineOnly ? (baseline?.target ?? 'baseline only') : target,
      scale: options.scale,
      strict: options.strict,
      baseline,
      baselineError,
      scenarios,
      failures,
      targets,
    });
    const files = await this.reportService.write(report, options.outDir);
    log('');
    if (report.rows.length > 0) {
      log(formatConsoleTable(report.rows));
      log('');
    }
    if (targets !== null) {
      log("issue 14's targets (measured in this run; details in the report):");
      log(formatTargetsConsole(targets.rows));
      log('');
    }
    log(`report: ${files.markdown}`);
    log(`        ${files.json}`);

    const couldNotRun =
      failures.length > 0 || (targets?.failures.length ?? 0) > 0 || baselineError !== null || signal.aborted;
    const thresholdsFailed = scenarios.some((s) => !s.passed);
    const exitCode = couldNotRun || (options.strict && thresholdsFailed) ? 1 : 0;
    return { report, files, exitCode };
  }

  /** One GET of a key that does not exist, with @keyflow/client: any HTTP answer proves the target is there. */
  private async preflight(target: string, token: string | undefined): Promise<true | TargetUnreachableError> {
    const client = new KeyflowClient({
      baseUrl: target,
      ...(token ? { token } : {}),
      timeoutMs: 5_000,
      retry: { attempts: 1 },
    });
    try {
      await client.get('lt-preflight');
      return true;
    } catch (error: unknown) {
      if (error instanceof KeyflowProblem) return true;
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      return new TargetUnreachableError(target, cause?.code ?? cause?.message ?? String(error));
    }
  }
}
