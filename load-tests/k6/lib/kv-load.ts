/**
 * What every keyflow k6 script does, driven by one scenario definition from `load-tests/scenarios`.
 * A script is three lines: pick the scenario, export `options`, `setup`, the default function (and `teardown`).
 *
 * Environment (`k6 run -e NAME=value …`):
 *   BASE_URL       the gateway, default http://127.0.0.21:8080 (the local stack's first gateway)
 *   KEYFLOW_TOKEN  adds `Authorization: Bearer <token>` to every request (TOKEN works too)
 *   SCALE          multiplies durations, budgets and key spaces (0.1 = smoke run), default 1
 *   BASELINE_RPS   the baseline GET req/s measured by the Node runner; turns `baselineTargets` into thresholds
 */
import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import type { Options, Scenario } from 'k6/options';
import {
  dataKey,
  drainKey,
  getMayMiss,
  makeValue,
  needsPrewrite,
  pickOperation,
  requestFor,
  valueOf,
  visibilityKey,
  type Operation,
  type RequestSpec,
} from '../../scenarios/kv-request.util.ts';
import { getScenario } from '../../scenarios/scenario-definitions.ts';
import type { ExecutorConfig, ScenarioDefinition, ScenarioName, Thresholds } from '../../scenarios/scenario.dto.ts';

// Custom metrics must be created in the init context; every script imports this module there.
export const writeVisibility = new Trend('write_visibility', true);
export const writeVisibilityTimeouts = new Counter('write_visibility_timeouts');
export const writeBacklogDrain = new Trend('write_backlog_drain', true);
export const requestBudgetElapsed = new Trend('request_budget_elapsed', true);

export interface LoadEnv {
  baseUrl: string;
  token: string | undefined;
  scale: number;
  baselineRps: number | undefined;
}

export interface SetupData {
  /** Every key of this run starts with it, so runs never see each other's keys. */
  prefix: string;
}

const SETUP_BATCH = 100;
const POLL_FIRST_S = 0.005;
const POLL_MAX_S = 0.05;

export function readEnv(): LoadEnv {
  const scale = Number(__ENV.SCALE ?? '1');
  const baseline = __ENV.BASELINE_RPS === undefined ? undefined : Number(__ENV.BASELINE_RPS);
  return {
    baseUrl: (__ENV.BASE_URL ?? 'http://127.0.0.21:8080').replace(/\/+$/, ''),
    token: __ENV.KEYFLOW_TOKEN ?? __ENV.TOKEN,
    scale: Number.isFinite(scale) && scale > 0 ? scale : 1,
    baselineRps: baseline !== undefined && Number.isFinite(baseline) && baseline > 0 ? baseline : undefined,
  };
}

export function loadScenario(name: ScenarioName, env: LoadEnv): ScenarioDefinition {
  return getScenario(name, env.scale);
}

function toK6Scenario(executor: ExecutorConfig): Scenario {
  switch (executor.executor) {
    case 'constant-arrival-rate':
    case 'constant-vus':
      return { ...executor };
    case 'ramping-vus':
      return { ...executor, stages: executor.stages.map((s) => ({ ...s })) };
  }
}

/** k6 options for the scenario: one k6 scenario, its thresholds, and baseline targets when BASELINE_RPS is set. */
export function buildOptions(scenario: ScenarioDefinition, env: LoadEnv): Options {
  const thresholds: Thresholds = {};
  for (const [metric, expressions] of Object.entries(scenario.thresholds)) thresholds[metric] = [...expressions];
  if (env.baselineRps !== undefined) {
    for (const target of scenario.baselineTargets) {
      const min = Math.floor(target.minRatio * env.baselineRps);
      thresholds[target.metric] = [...(thresholds[target.metric] ?? []), `rate>=${min}`];
    }
  }
  return {
    scenarios: { [scenario.name]: toK6Scenario(scenario.executor) },
    thresholds,
    setupTimeout: '600s',
    teardownTimeout: '120s',
    summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)', 'p(99)'],
    // Connections are reused per VU, as the Node runner's pool does.
    noConnectionReuse: false,
  };
}

function headers(env: LoadEnv, withBody: boolean): Record<string, string> {
  const h: Record<string, string> = {};
  if (withBody) h['Content-Type'] = 'application/json';
  if (env.token !== undefined && env.token !== '') h.Authorization = `Bearer ${env.token}`;
  return h;
}

function send(env: LoadEnv, spec: RequestSpec, tags: Record<string, string>, readBody: boolean) {
  return http.request(spec.method, env.baseUrl + spec.path, spec.body ?? null, {
    headers: headers(env, spec.body !== undefined),
    tags,
    responseCallback: http.expectedStatuses(...spec.expectedStatuses),
    responseType: readBody ? 'text' : 'none',
  });
}

interface AwaitResult {
  /** Milliseconds from each key's accepted PUT until it read back with its value. */
  visibleAfter: number[];
  /** Keys still not readable with their value when `timeoutMs` ran out. */
  pending: string[];
}

/** Writes `keys` in batches and polls (with backoff) until every one reads back with its value, or time runs out. */
function writeAndAwait(
  env: LoadEnv,
  scenario: ScenarioDefinition,
  keys: string[],
  valueFor: (key: string) => string,
  tag: string,
  timeoutMs: number,
): AwaitResult {
  const acceptedAt = new Map<string, number>();
  for (let i = 0; i < keys.length; i += SETUP_BATCH) {
    const chunk = keys.slice(i, i + SETUP_BATCH);
    const specs = chunk.map((key) => requestFor(scenario.api, 'put', key, valueFor(key), false));
    const responses = http.batch(
      specs.map((spec) => ({
        method: spec.method,
        url: env.baseUrl + spec.path,
        body: spec.body ?? null,
        params: { headers: headers(env, true), tags: { op: tag }, responseType: 'none' as const },
      })),
    );
    responses.forEach((res, j) => {
      const key = chunk[j];
      const spec = specs[j];
      if (key === undefined || spec === undefined) return;
      if (!spec.expectedStatuses.includes(res.status)) {
        throw new Error(`${tag}: PUT ${key} answered ${res.status}, expected ${spec.expectedStatuses.join('|')}`);
      }
      acceptedAt.set(key, Date.now());
    });
  }

  const visibleAfter: number[] = [];
  const deadline = Date.now() + timeoutMs;
  let pending = [...keys];
  let pause = POLL_FIRST_S;
  while (pending.length > 0 && Date.now() <= deadline) {
    const stillPending: string[] = [];
    for (let i = 0; i < pending.length; i += SETUP_BATCH) {
      const chunk = pending.slice(i, i + SETUP_BATCH);
      const responses = http.batch(
        chunk.map((key) => ({
          method: 'GET',
          url: env.baseUrl + requestFor(scenario.api, 'get', key, '', true).path,
          params: {
            headers: headers(env, false),
            tags: { op: tag },
            responseType: 'text' as const,
            responseCallback: http.expectedStatuses(200, 404),
          },
        })),
      );
      responses.forEach((res, j) => {
        const key = chunk[j];
        if (key === undefined) return;
        if (res.status === 200 && valueOf(String(res.body)) === valueFor(key)) {
          visibleAfter.push(Date.now() - (acceptedAt.get(key) ?? Date.now()));
        } else {
          stillPending.push(key);
        }
      });
    }
    pending = stillPending;
    if (pending.length > 0) {
      sleep(pause);
      pause = Math.min(POLL_MAX_S * 4, pause * 2);
    }
  }
  return { visibleAfter, pending };
}

/** Pre-writes the key space (when the mix reads it) and waits until every key is readable. */
export function setupKeys(scenario: ScenarioDefinition, env: LoadEnv): SetupData {
  const prefix = `lt-${scenario.name}-${Date.now().toString(36)}`;
  if (needsPrewrite(scenario)) {
    const keys = Array.from({ length: scenario.keySpace }, (_, i) => dataKey(prefix, i));
    const timeoutMs = 300_000;
    const { pending } = writeAndAwait(
      env,
      scenario,
      keys,
      (key) => makeValue(`setup:${key}:`, scenario.valueSize),
      'setup',
      timeoutMs,
    );
    if (pending.length > 0) {
      throw new Error(`setup: ${pending.length} of ${keys.length} keys still not readable after ${timeoutMs} ms`);
    }
  }
  return { prefix };
}

/** Polls GET until `value` is visible under `key`, backing off so the probe never hammers the API. */
function recordVisibility(env: LoadEnv, scenario: ScenarioDefinition, key: string, value: string): void {
  const acceptedAt = Date.now();
  const deadline = acceptedAt + scenario.writeVisibility.timeoutMs;
  const spec = requestFor(scenario.api, 'get', key, '', true);
  let pause = POLL_FIRST_S;
  for (;;) {
    const res = send(env, spec, { op: 'visibility', traffic: 'probe' }, true);
    if (res.status === 200 && valueOf(String(res.body)) === value) {
      writeVisibility.add(Date.now() - acceptedAt);
      return;
    }
    if (Date.now() + pause * 1000 > deadline) {
      writeVisibilityTimeouts.add(1);
      return;
    }
    sleep(pause);
    pause = Math.min(POLL_MAX_S, pause * 1.5);
  }
}

/** One iteration: one request of the mix (plus, for a sampled PUT, the visibility probe). */
export function runIteration(scenario: ScenarioDefinition, env: LoadEnv, data: SetupData): void {
  const budget = scenario.requestBudget;
  if (budget !== undefined && exec.scenario.iterationInTest >= budget) {
    // The budget is spent; idle until the executor ends the scenario.
    sleep(1);
    return;
  }
  const op: Operation = pickOperation(scenario.mix, Math.random());
  const sampled = op === 'put' && Math.random() < scenario.writeVisibility.sampleRate;
  const writer = String(exec.vu.idInTest);
  const seq = exec.vu.iterationInScenario;
  const key = sampled
    ? visibilityKey(data.prefix, writer, seq)
    : dataKey(data.prefix, Math.floor(Math.random() * scenario.keySpace));
  const value = makeValue(`${writer}:${seq}:`, scenario.valueSize);
  const spec = requestFor(scenario.api, op, key, value, getMayMiss(scenario));

  const res = send(env, spec, { op, traffic: 'load' }, false);
  const ok = spec.expectedStatuses.includes(res.status);
  check(res, { [`${op} answered ${spec.expectedStatuses.join(' or ')}`]: () => ok });
  if (budget !== undefined) requestBudgetElapsed.add(Date.now() - exec.scenario.startTime);
  if (sampled && ok) recordVisibility(env, scenario, key, value);
}

/** After the load: write marker keys and record how long the write path takes to make them readable. */
export function drainBacklog(scenario: ScenarioDefinition, env: LoadEnv, data: SetupData): void {
  const drain = scenario.backlogDrain;
  if (drain === undefined) return;
  const keys = Array.from({ length: drain.markers }, (_, i) => drainKey(data.prefix, i));
  const stamp = Date.now().toString(36);
  const { visibleAfter, pending } = writeAndAwait(
    env,
    scenario,
    keys,
    (key) => makeValue(`drain:${stamp}:${key}:`, scenario.valueSize),
    'drain',
    drain.timeoutMs,
  );
  for (const ms of visibleAfter) writeBacklogDrain.add(ms);
  // A marker that never showed up counts as the whole timeout, so the threshold fails instead of passing empty.
  for (let i = 0; i < pending.length; i++) writeBacklogDrain.add(drain.timeoutMs);
}

/** Everything a scenario script exports, built from its name: the scripts stay one line per k6 entry point. */
export interface ScenarioScript {
  options: Options;
  setup: () => SetupData;
  iteration: (data: SetupData) => void;
  teardown: (data: SetupData) => void;
}

export function scenarioScript(name: ScenarioName): ScenarioScript {
  const env = readEnv();
  const scenario = loadScenario(name, env);
  return {
    options: buildOptions(scenario, env),
    setup: () => setupKeys(scenario, env),
    iteration: (data) => runIteration(scenario, env, data),
    teardown: (data) => drainBacklog(scenario, env, data),
  };
}
