import { availableParallelism } from 'node:os';
import {
  dataKey,
  executorDurationMs,
  formatDuration,
  makeValue,
  type RequestSpec,
  type ScenarioDefinition,
  type ScenarioName,
} from '../../../scenarios/scenarios';
import { apiProcesses, tierProcesses, type StackInfo } from '../cli/stack-info.util';
import { KvHttpClient } from '../http/kv-http.client';
import { runClosedModel } from '../load/closed-model.util';
import { writeAndAwait } from '../load/key-writer.util';
import { ProgressReporter } from '../load/progress-reporter.util';
import { ScenarioMetrics } from '../load/scenario-metrics.service';
import { describeExecutor, ScenarioRunner, type ScenarioResult } from '../load/scenario-runner.service';
import { CpuSampler, type CpuReport } from '../metrics/cpu-sampler.service';
import { managementApiOf, QueueDepthReader } from '../metrics/queue-depth.service';
import { RssSampler, type RssReport } from '../metrics/rss-sampler.service';
import { describeServerProfile } from '../metrics/server-profile.util';
import { ServerProfiler } from '../metrics/server-profiler.service';
import { systemClock } from '../util/clock.util';
import { WRK_SCRIPT_DIR, type WrkProfile } from '../wrk/wrk-command.util';
import { WrkRunner, type WrkRun } from '../wrk/wrk-runner.service';
import {
  DRAIN_TIMEOUT_MS,
  drainMarkerKeys,
  STORE_PUT_KEY_SPACE,
  STORE_PUT_VALUE_SIZE,
  storePutScenario,
  sustainedWritesAt1000,
  TARGET_CONNECTIONS,
  targetRunMs,
} from './target-scenarios.util';
import { buildTargetRows, describeTargetCpu, tierCpuSeconds } from './targets-table.util';
import type { TargetDrain, TargetProfile, TargetRun, TargetRunFailure, TargetsReport, TargetTool } from './targets.dto';

export interface TargetsRunOptions {
  target: string;
  token: string | undefined;
  stack: StackInfo | undefined;
  scale: number;
  definitions: Record<ScenarioName, ScenarioDefinition>;
  /** Results of this run's scenarios: `cache-hit-get` and `reference` are reused instead of run again. */
  existing: readonly ScenarioResult[];
  /** false: the Node runner only (`--skip-wrk`). */
  runWrk: boolean;
  progressIntervalMs: number;
  log: (line: string) => void;
  signal: AbortSignal;
}

const HEALTH_LIVE: RequestSpec = { method: 'GET', path: '/health/live', expectedStatuses: [200] };
const KIB_PER_MIB = 1024;
const WRK_THREADS = 2;
const WRK_TIMEOUT_S = 10;

interface WindowResult {
  cpu: CpuReport | null;
  rss: RssReport;
  seconds: number;
}

/** CPU and API RSS over one measurement window. */
class Window {
  private constructor(
    private readonly cpu: CpuSampler | null,
    private readonly rss: RssSampler,
    private readonly startedAt: number,
  ) {}

  static async open(stack: StackInfo | undefined): Promise<Window> {
    const processes = tierProcesses(stack);
    const cpu = processes.length > 0 ? new CpuSampler(processes, availableParallelism()) : null;
    const rss = new RssSampler(apiProcesses(stack));
    await Promise.all([cpu?.start(), rss.start()]);
    return new Window(cpu, rss, performance.now());
  }

  async close(): Promise<WindowResult> {
    const [cpu, rss] = await Promise.all([this.cpu?.stop() ?? null, this.rss.stop()]);
    return { cpu, rss, seconds: (performance.now() - this.startedAt) / 1000 };
  }
}

/** Starts a server profile for a write run; null without a stack (a remote target) or when it cannot start. */
async function openProfiler(stack: StackInfo | undefined, log: (line: string) => void): Promise<ServerProfiler | null> {
  if (stack === undefined) return null;
  try {
    return await ServerProfiler.open(stack);
  } catch (error: unknown) {
    log(`[targets] no server profile: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}

/** Ends a write run's profile and logs it per accepted write. */
async function closeProfiler(
  profiler: ServerProfiler | null,
  run: TargetRun,
  log: (line: string) => void,
): Promise<TargetRun> {
  if (profiler === null) return run;
  const serverProfile = await profiler.close();
  for (const line of describeServerProfile(`${run.tool} ${run.profile}`, serverProfile, run.acceptedWrites ?? 0)) {
    log(line);
  }
  return { ...run, serverProfile };
}

const rssMiB = (rss: RssReport | null | undefined): number | null =>
  rss?.maxKiB != null ? rss.maxKiB / KIB_PER_MIB : null;

function perWriteMs(cpu: CpuReport | null, acceptedWrites: number): number | null {
  if (cpu === null || acceptedWrites <= 0) return null;
  return (tierCpuSeconds({ cpu }) * 1000) / acceptedWrites;
}

/**
 * The measurements behind issue 14's target table (`load-tests/README.md`, "The targets table"), each made by the
 * Node runner and, where the issue asks for it, by wrk against the same gateway with the same request profile:
 * reads first (`GET /health/live` and cache-hit GETs, back to back, so the ratio compares like with like), then
 * writes (`PUT /store` at 64 connections, the reference profile, 1,000 writes/s for 60 s). Around each run it samples
 * CPU per stack tier and the API processes' RSS; after each write run it waits until the shard queues are drained.
 * A run that fails is recorded and the next one still runs.
 */
export class TargetsService {
  constructor(
    private readonly scenarioRunner = new ScenarioRunner(),
    private readonly wrkRunner = new WrkRunner(WRK_SCRIPT_DIR),
  ) {}

  async run(options: TargetsRunOptions): Promise<TargetsReport> {
    const { log, signal } = options;
    const runs: TargetRun[] = [];
    const failures: TargetRunFailure[] = [];
    const wrk = { version: null as string | null, skipped: null as string | null };
    if (options.runWrk) {
      try {
        wrk.version = await this.wrkRunner.version();
      } catch (error: unknown) {
        wrk.skipped = error instanceof Error ? error.message : String(error);
        log(`[targets] ${wrk.skipped}`);
      }
    } else {
      wrk.skipped = '--skip-wrk';
    }
    const withWrk = wrk.version !== null;

    const step = async (tool: TargetTool, profile: TargetProfile, measure: () => Promise<TargetRun>): Promise<void> => {
      if (signal.aborted) return;
      try {
        const run = await measure();
        runs.push(run);
        log(describeTargetCpu(run));
      } catch (error: unknown) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push({ tool, profile, error: message });
        log(`[targets] ${tool} ${profile} could not run: ${message}`);
      }
    };

    log(`[targets] issue 14's targets: Node runner${withWrk ? ` and wrk ${wrk.version}` : ''}, scale ${options.scale}`);
    await step('node', 'health-live', () => this.nodeHealthLive(options));
    await step('node', 'cache-hit-get', () =>
      this.nodeScenario(options, 'cache-hit-get', options.definitions['cache-hit-get']),
    );
    if (withWrk) {
      await step('wrk', 'health-live', () => this.wrkRead(options, 'health-live'));
      await step('wrk', 'cache-hit-get', () => this.wrkRead(options, 'kv-get'));
    }
    await step('node', 'store-put', () =>
      this.nodeScenario(options, 'store-put', storePutScenario(options.definitions, options.scale)),
    );
    if (withWrk) await step('wrk', 'store-put', () => this.wrkStorePut(options));
    await step('node', 'reference', () => this.nodeScenario(options, 'reference', options.definitions.reference));
    await step('node', 'sustained-writes-1000', () =>
      this.nodeScenario(options, 'sustained-writes-1000', sustainedWritesAt1000(options.definitions, options.scale)),
    );
    return { wrk, runs, failures, rows: buildTargetRows(runs) };
  }

  /** `GET /health/live` at 64 connections, closed model, for the Node side of the cache-hit ratio. */
  private async nodeHealthLive(options: TargetsRunOptions): Promise<TargetRun> {
    const durationMs = targetRunMs(options.scale);
    const client = new KvHttpClient(options.target, { connections: TARGET_CONNECTIONS, token: options.token });
    const metrics = new ScenarioMetrics();
    const progress = new ProgressReporter('node health-live', durationMs, metrics, options.log);
    try {
      const window = await Window.open(options.stack);
      progress.start(options.progressIntervalMs);
      const result = await runClosedModel({
        targetVUs: () => TARGET_CONNECTIONS,
        durationMs,
        gracefulStopMs: 5000,
        signal: options.signal,
        iteration: async () => {
          const outcome = await client.send(HEALTH_LIVE);
          metrics.record('get', outcome.durationMs, outcome.failure);
        },
      }).finally(() => progress.stop());
      metrics.loadDurationS = result.elapsedMs / 1000;
      const { cpu, rss } = await window.close();
      const get = metrics.operationResult('get');
      return {
        tool: 'node',
        profile: 'health-live',
        command: `GET /health/live, constant-vus ${TARGET_CONNECTIONS} VUs for ${durationMs / 1000} s`,
        connections: TARGET_CONNECTIONS,
        durationS: metrics.loadDurationS,
        requests: get.requests,
        rps: get.rps,
        p50Ms: get.latency.p50Ms,
        p99Ms: get.latency.p99Ms,
        maxMs: get.latency.maxMs,
        putP99Ms: null,
        errors: get.failures,
        errorDetail: get.errors,
        acceptedWrites: null,
        dropped: null,
        visibilityP99Ms: null,
        visibilityTimeouts: null,
        cpu,
        loadGeneratorPercentOfCore: cpu?.loadGeneratorPercentOfCore ?? null,
        cpuPerWriteMs: null,
        apiMaxRssMiB: rssMiB(rss),
        drain: null,
      };
    } finally {
      await client.close();
    }
  }

  /**
   * A scenario run by the Node runner (or this run's result of it, for `cache-hit-get` and `reference` when `all`
   * ran them already). Write runs get their own CPU window, from the start until the queues were drained, so the
   * workers' catching up counts towards the writes it belongs to.
   */
  private async nodeScenario(
    options: TargetsRunOptions,
    profile: TargetProfile,
    scenario: ScenarioDefinition,
  ): Promise<TargetRun> {
    // cache-hit-get is compared with GET /health/live over the same length of run.
    const sized =
      profile === 'cache-hit-get' && scenario.executor.executor === 'constant-vus'
        ? { ...scenario, executor: { ...scenario.executor, duration: formatDuration(targetRunMs(options.scale)) } }
        : scenario;
    const existing = options.existing.find(
      (s) =>
        (profile === 'reference' && s.name === 'reference') ||
        (profile === 'cache-hit-get' &&
          s.name === 'cache-hit-get' &&
          executorDurationMs(s.executor) === executorDurationMs(sized.executor)),
    );
    if (existing !== undefined) {
      options.log(`[targets] node ${profile}: this run's ${existing.name} result`);
      return fromScenarioResult(profile, existing, existing.cpu, null);
    }
    const writes = scenario.mix.put > 0 && scenario.mix.get === 0;
    const window = writes ? await Window.open(options.stack) : null;
    const profiler = profile === 'sustained-writes-1000' ? await openProfiler(options.stack, options.log) : null;
    // The drain check runs here for PUT /store (markers and queue depths together, as for wrk).
    const definition = profile === 'store-put' ? withoutBacklogDrain(sized) : sized;
    const result = await this.scenarioRunner.run(definition, {
      label: profile === scenario.name ? undefined : profile,
      target: { baseUrl: options.target, token: options.token },
      rssProcesses: apiProcesses(options.stack),
      cpuProcesses: tierProcesses(options.stack),
      progressIntervalMs: options.progressIntervalMs,
      log: options.log,
      signal: options.signal,
    });
    let drain: TargetDrain | null = null;
    let closed: Promise<WindowResult> | null = null;
    if (profile === 'store-put' && window !== null) {
      ({ drain, closed } = await this.drain(options, `lt-${profile}-${Date.now().toString(36)}`, window));
    } else if (writes) {
      // The scenario's own marker check ran first: the backlog is applied, the CPU window ends here.
      closed = window?.close() ?? null;
      const queues = await this.queues(options);
      const markersMaxMs = result.backlogDrain?.latency.maxMs ?? null;
      drain = {
        markers: result.backlogDrain?.markers ?? 0,
        shardQueues: null,
        markersMaxMs,
        markersPending: result.backlogDrain?.pending ?? 0,
        ...queues,
        drainedAfterMs: combineDrain(markersMaxMs, result.backlogDrain?.pending ?? 0, queues),
      };
    }
    const cpu = closed === null ? result.cpu : (await closed).cpu;
    return closeProfiler(profiler, fromScenarioResult(profile, result, cpu, drain), options.log);
  }

  /** A read profile with wrk: `GET /health/live`, or cache-hit GETs of keys written (and read back) first. */
  private async wrkRead(
    options: TargetsRunOptions,
    profile: Extract<WrkProfile, 'health-live' | 'kv-get'>,
  ): Promise<TargetRun> {
    const prefix = `lt-wrk-${profile}-${Date.now().toString(36)}`;
    const keySpace = Math.max(100, Math.round(1000 * options.scale));
    if (profile === 'kv-get') await this.prewrite(options, prefix, keySpace);
    const durationS = targetRunMs(options.scale) / 1000;
    const window = await Window.open(options.stack);
    const run = await this.wrkRunner.run(
      {
        profile,
        target: options.target,
        connections: TARGET_CONNECTIONS,
        threads: WRK_THREADS,
        durationS,
        timeoutS: WRK_TIMEOUT_S,
        token: options.token,
        keyPrefix: prefix,
        keySpace,
      },
      options.signal,
    );
    const { cpu, rss, seconds } = await window.close();
    return fromWrk(profile === 'kv-get' ? 'cache-hit-get' : 'health-live', run, cpu, rss, seconds, null, false);
  }

  /** `PUT /store` with random keys with wrk; the CPU window closes once the queues are drained. */
  private async wrkStorePut(options: TargetsRunOptions): Promise<TargetRun> {
    const prefix = `lt-wrk-store-put-${Date.now().toString(36)}`;
    const window = await Window.open(options.stack);
    const profiler = await openProfiler(options.stack, options.log);
    const run = await this.wrkRunner.run(
      {
        profile: 'store-put',
        target: options.target,
        connections: TARGET_CONNECTIONS,
        threads: WRK_THREADS,
        durationS: targetRunMs(options.scale) / 1000,
        timeoutS: WRK_TIMEOUT_S,
        token: options.token,
        keyPrefix: prefix,
        keySpace: STORE_PUT_KEY_SPACE,
        valueSize: STORE_PUT_VALUE_SIZE,
      },
      options.signal,
    );
    options.log(
      `[wrk store-put] ${Math.round(run.result.rps)} req/s, p99 ${run.result.latency.p99Ms.toFixed(1)} ms, ` +
        `${run.result.errorCount} errors; waiting for the queues to drain`,
    );
    const { drain, closed } = await this.drain(options, prefix, window);
    const { cpu, rss, seconds } = await closed;
    return closeProfiler(profiler, fromWrk('store-put', run, cpu, rss, seconds, drain, true), options.log);
  }

  /** Writes the read keys and waits until each reads back with its value, as the Node runner's setup does. */
  private async prewrite(options: TargetsRunOptions, prefix: string, keySpace: number): Promise<void> {
    const client = new KvHttpClient(options.target, { connections: TARGET_CONNECTIONS, token: options.token });
    try {
      const keys = Array.from({ length: keySpace }, (_, i) => dataKey(prefix, i));
      const { pending, rejected } = await writeAndAwait(client, keys, (key) => makeValue(`setup:${key}:`, 256), {
        api: 'v1',
        concurrency: TARGET_CONNECTIONS,
        timeoutMs: 300_000,
      });
      if (rejected.length > 0 || pending.length > 0)
        throw new Error(`setup: ${rejected.length} writes rejected, ${pending.length} keys not readable`);
      options.log(`[wrk kv-get] setup: ${keySpace} keys readable`);
    } finally {
      await client.close();
    }
  }

  /**
   * Right after a write load: marker writes (which queue behind the backlog of their shard) and the shard queues'
   * depth, together; drained once every marker reads back and every queue reports 0 messages.
   */
  private async drain(
    options: TargetsRunOptions,
    prefix: string,
    window: Window,
  ): Promise<{ drain: TargetDrain; closed: Promise<WindowResult> }> {
    const client = new KvHttpClient(options.target, { connections: 8, token: options.token });
    try {
      const reader = this.queueReader(options);
      const shards = await reader?.depth().then(
        (d) => (d.queues > 0 ? d.queues : undefined),
        () => undefined,
      );
      const keys = drainMarkerKeys(prefix, shards);
      const stamp = Date.now().toString(36);
      let closed: Promise<WindowResult> | undefined;
      const [markers, queues] = await Promise.all([
        writeAndAwait(client, keys, (key) => makeValue(`drain:${stamp}:${key}:`, STORE_PUT_VALUE_SIZE), {
          api: 'store',
          concurrency: keys.length,
          timeoutMs: DRAIN_TIMEOUT_MS,
          clock: systemClock,
        }).finally(() => {
          // Every marker read back: the backlog is applied, so the writes' CPU is all spent. The management API's
          // (older) confirmation must not stretch the window with idle time.
          closed = window.close();
        }),
        this.queues(options),
      ]);
      const pending = markers.pending.length + markers.rejected.length;
      const markersMaxMs = markers.visibleAfterMs.length > 0 ? Math.max(...markers.visibleAfterMs) : null;
      const drain: TargetDrain = {
        markers: keys.length,
        shardQueues: shards ?? null,
        markersMaxMs,
        markersPending: pending,
        ...queues,
        drainedAfterMs: combineDrain(markersMaxMs, pending, queues),
      };
      return { drain, closed: closed ?? window.close() };
    } finally {
      await client.close();
    }
  }

  private queueReader(options: TargetsRunOptions): QueueDepthReader | undefined {
    const api = options.stack === undefined ? undefined : managementApiOf(options.stack);
    return api === undefined ? undefined : new QueueDepthReader(api);
  }

  private async queues(options: TargetsRunOptions): Promise<Pick<TargetDrain, 'queues' | 'queuesError'>> {
    const reader = this.queueReader(options);
    if (reader === undefined) return { queues: null, queuesError: 'no management API in stack.json' };
    try {
      return { queues: await reader.waitUntilDrained(DRAIN_TIMEOUT_MS), queuesError: null };
    } catch (error: unknown) {
      return { queues: null, queuesError: error instanceof Error ? error.message : String(error) };
    }
  }
}

/**
 * When the backlog was applied: when the last marker read back (markers cover every shard queue, each applied in
 * order). The management API's depths are statistics up to 5 s old, so they only confirm it: a queue that never
 * reported 0 within the timeout means not drained.
 */
export function combineDrain(
  markersMaxMs: number | null,
  markersPending: number,
  queues: Pick<TargetDrain, 'queues' | 'queuesError'>,
): number | null {
  if (markersPending > 0 || markersMaxMs === null) return null;
  if (queues.queues !== null && queues.queues.drainedAfterMs === null) return null;
  return markersMaxMs;
}

function withoutBacklogDrain(scenario: ScenarioDefinition): ScenarioDefinition {
  const thresholds = Object.fromEntries(
    Object.entries(scenario.thresholds).filter(([metric]) => metric !== 'write_backlog_drain'),
  );
  return { ...scenario, backlogDrain: undefined, thresholds };
}

function fromScenarioResult(
  profile: TargetProfile,
  result: ScenarioResult,
  cpu: CpuReport | null,
  drain: TargetDrain | null,
): TargetRun {
  const all = result.operations.find((o) => o.op === 'all');
  const put = result.operations.find((o) => o.op === 'put');
  const acceptedWrites = put === undefined ? null : put.requests - put.failures;
  const mixed = result.operations.filter((o) => o.op !== 'all').length > 1;
  return {
    tool: 'node',
    profile,
    command: `${result.name}: ${describeExecutor(result.executor)}`,
    connections: executorConnections(result),
    durationS: result.load.durationS,
    requests: all?.requests ?? 0,
    rps: all?.rps ?? 0,
    p50Ms: all?.latency.p50Ms ?? 0,
    p99Ms: all?.latency.p99Ms ?? 0,
    maxMs: all?.latency.maxMs ?? 0,
    putP99Ms: mixed ? (put?.latency.p99Ms ?? null) : null,
    errors: all?.failures ?? 0,
    errorDetail: all?.errors ?? {},
    acceptedWrites,
    dropped: result.executor.executor === 'constant-arrival-rate' ? result.load.dropped : null,
    visibilityP99Ms: result.visibility.latency?.p99Ms ?? null,
    visibilityTimeouts: result.visibility.sampleRate > 0 ? result.visibility.timeouts : null,
    cpu,
    loadGeneratorPercentOfCore: cpu?.loadGeneratorPercentOfCore ?? null,
    cpuPerWriteMs: acceptedWrites === null || drain === null ? null : perWriteMs(cpu, acceptedWrites),
    apiMaxRssMiB: rssMiB(result.rss),
    drain,
  };
}

function executorConnections(result: ScenarioResult): number {
  const e = result.executor;
  switch (e.executor) {
    case 'constant-arrival-rate':
      return e.maxVUs;
    case 'constant-vus':
      return e.vus;
    case 'ramping-vus':
      return Math.max(e.startVUs, ...e.stages.map((s) => s.target));
  }
}

function fromWrk(
  profile: TargetProfile,
  run: WrkRun,
  cpu: CpuReport | null,
  rss: RssReport,
  windowS: number,
  drain: TargetDrain | null,
  writes: boolean,
): TargetRun {
  const r = run.result;
  const wrkPercent = windowS > 0 ? Math.round((run.cpuSeconds / windowS) * 1000) / 10 : null;
  const errorDetail = Object.fromEntries(
    Object.entries({ ...r.errors, 'status >= 400': r.errors.status }).filter(([name, n]) => name !== 'status' && n > 0),
  );
  return {
    tool: 'wrk',
    profile,
    command: run.commandLine,
    connections: TARGET_CONNECTIONS,
    durationS: r.durationS,
    requests: r.requests,
    rps: r.rps,
    p50Ms: r.latency.p50Ms,
    p99Ms: r.latency.p99Ms,
    maxMs: r.latency.maxMs,
    putP99Ms: null,
    errors: r.errorCount,
    errorDetail,
    acceptedWrites: writes ? r.okResponses : null,
    dropped: null,
    visibilityP99Ms: null,
    visibilityTimeouts: null,
    // The load generator is wrk here (the runner only waits for it): its CPU replaces the runner's own.
    cpu: cpu === null ? null : { ...cpu, loadGeneratorPercentOfCore: wrkPercent ?? cpu.loadGeneratorPercentOfCore },
    loadGeneratorPercentOfCore: wrkPercent,
    cpuPerWriteMs: writes ? perWriteMs(cpu, r.okResponses) : null,
    apiMaxRssMiB: rssMiB(rss),
    drain,
  };
}
