import { isAbsolute, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  defineScenarios,
  formatDuration,
  isScenarioName,
  OPT_IN_SCENARIO_NAMES,
  SCENARIO_NAMES,
  type ScenarioDefinition,
  type ScenarioName,
} from '../../../scenarios/scenarios';

export interface CliOptions {
  scenarios: ScenarioName[];
  /**
   * Issue 14's target measurements (Node runner and wrk): `with` the scenarios (the default run, or `--targets`
   * next to `--scenario`), `only` them (`--targets` alone), or `off` (`--scenario` alone, `--skip-targets`).
   */
  targets: 'with' | 'only' | 'off';
  /** `--skip-wrk`: the target measurements with the Node runner only. */
  skipWrk: boolean;
  /** Explicit `--target`; otherwise the stack's gateway is used. */
  target: string | undefined;
  token: string | undefined;
  scale: number;
  /** `--rate`: replaces the arrival rate of open-model scenarios (e.g. to see how cost grows with the rate). */
  rate: number | undefined;
  /** `--duration`: replaces the length of fixed-duration scenarios (a 30-minute memory-soak in 5, say). */
  durationMs: number | undefined;
  outDir: string;
  stackFile: string;
  baselineOnly: boolean;
  skipBaseline: boolean;
  /** Baseline GET measurement length; PUT gets half of it. */
  baselineDurationMs: number;
  baselineConnections: number;
  progressIntervalMs: number;
  allowRemote: boolean;
  strict: boolean;
  list: boolean;
  help: boolean;
}

export class CliUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = CliUsageError.name;
  }
}

export const USAGE = `Usage: npm run bench -- [options]
  (node -r @swc-node/register load-tests/runner/src/main.ts [options])

  --scenario <name|all>     scenario to run; repeat or comma-separate (default: all)
                            ${SCENARIO_NAMES.join(', ')}
                            and, only when named (not in all): ${OPT_IN_SCENARIO_NAMES.join(', ')}
  --target <url>            base URL to load (default: the gateway in .keyflow/stack.json, else http://127.0.0.21:8080)
  --token <token>           bearer token for every request (default: KEYFLOW_TOKEN, else the stack's token)
  --scale <factor>          multiply durations, budgets and key spaces (default: SCALE or 1; 0.1 = smoke run);
                            --duration-scale is the same flag
  --targets                 measure issue 14's targets (PUT /store, 1,000 writes/s, cache-hit GET ÷ /health/live,
                            reference, API RSS, CPU per write) with the Node runner and wrk, and print the table;
                            alone: only that; part of the default run (no --scenario)
  --skip-targets            not the targets table (the default run without it)
  --skip-wrk                the targets with the Node runner only (wrk: apt-get install -y wrk)
  --rate <n>                iterations per second for open-model scenarios instead of their own rate
                            (read-heavy, write-heavy, sustained-writes, soak); thresholds stay as defined
  --duration <s>            seconds of load for fixed-duration scenarios instead of their own (after --scale)
  --out <dir>               report directory (default: load-tests/reports)
  --stack <file>            stack description (default: .keyflow/stack.json)
  --baseline-only           measure only the baseline (bare Fastify behind nginx) and report it
  --skip-baseline           do not measure the baseline (no ratios in the report)
  --baseline-duration <s>   seconds of baseline GET load (default: 20 × scale, at least 2); PUT gets half
  --baseline-connections <n> connections for the baseline (default: 64, like cache-hit-get)
  --progress <s>            seconds between progress lines, 0 for none (default: 5)
  --allow-remote            allow a target that is not a loopback address
  --strict                  exit 1 when a threshold fails (default: thresholds are reported, exit 0)
  --list                    list the scenarios at the given scale and exit
  -h, --help                show this help`;

function positiveNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new CliUsageError(`${name} must be a positive number, got '${raw}'`);
  return value;
}

/** Parses the command line (and the env fallbacks `SCALE`, `KEYFLOW_TOKEN`). Paths are resolved against `root`. */
export function parseCliOptions(argv: string[], env: NodeJS.ProcessEnv, root: string): CliOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error: unknown) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  if (values.targets && values['skip-targets'])
    throw new CliUsageError('--targets and --skip-targets exclude each other');
  const targets: CliOptions['targets'] = values['skip-targets']
    ? 'off'
    : values.scenario === undefined
      ? values.targets
        ? 'only'
        : 'with'
      : values.targets
        ? 'with'
        : 'off';
  const requested = (values.scenario ?? (targets === 'only' ? [] : ['all']))
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const scenarios: ScenarioName[] = [];
  for (const name of requested) {
    if (name === 'all') scenarios.push(...SCENARIO_NAMES);
    else if (isScenarioName(name)) scenarios.push(name);
    else throw new CliUsageError(`unknown scenario '${name}' (known: ${SCENARIO_NAMES.join(', ')}, all)`);
  }
  const scale = positiveNumber('--scale', values.scale ?? values['duration-scale'] ?? env.SCALE ?? '1');
  const resolvePath = (p: string): string => (isAbsolute(p) ? p : join(root, p));
  if (values['baseline-only'] && values['skip-baseline']) {
    throw new CliUsageError('--baseline-only and --skip-baseline exclude each other');
  }
  if (values.target !== undefined) {
    try {
      new URL(values.target);
    } catch {
      throw new CliUsageError(`--target must be a URL such as http://127.0.0.1:8080, got '${values.target}'`);
    }
  }
  const rate = values.rate === undefined ? undefined : positiveNumber('--rate', values.rate);
  if (rate !== undefined) {
    const definitions = defineScenarios(1);
    const closed = [...new Set(scenarios)].filter(
      (name) => definitions[name].executor.executor !== 'constant-arrival-rate',
    );
    if (closed.length > 0)
      throw new CliUsageError(`--rate applies only to open-model scenarios; not to ${closed.join(', ')}`);
  }
  const durationMs = values.duration === undefined ? undefined : positiveNumber('--duration', values.duration) * 1000;
  if (durationMs !== undefined) {
    const definitions = defineScenarios(1);
    const ramping = [...new Set(scenarios)].filter((name) => definitions[name].executor.executor === 'ramping-vus');
    if (ramping.length > 0)
      throw new CliUsageError(
        `--duration applies only to scenarios with a fixed duration; not to ${ramping.join(', ')}`,
      );
  }
  const progress = Number(values.progress ?? '5');
  if (!Number.isFinite(progress) || progress < 0)
    throw new CliUsageError(`--progress must be ≥ 0, got '${values.progress}'`);
  return {
    scenarios: [...new Set(scenarios)],
    targets,
    skipWrk: values['skip-wrk'] ?? false,
    target: values.target,
    token: values.token ?? env.KEYFLOW_TOKEN,
    scale,
    rate,
    durationMs,
    outDir: resolvePath(values.out ?? 'load-tests/reports'),
    stackFile: resolvePath(values.stack ?? '.keyflow/stack.json'),
    baselineOnly: values['baseline-only'] ?? false,
    skipBaseline: values['skip-baseline'] ?? false,
    baselineDurationMs:
      values['baseline-duration'] !== undefined
        ? positiveNumber('--baseline-duration', values['baseline-duration']) * 1000
        : Math.max(2000, 20_000 * scale),
    baselineConnections: Math.round(positiveNumber('--baseline-connections', values['baseline-connections'] ?? '64')),
    progressIntervalMs: progress * 1000,
    allowRemote: values['allow-remote'] ?? false,
    strict: values.strict ?? false,
    list: values.list ?? false,
    help: values.help ?? false,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenario: { type: 'string', multiple: true },
      targets: { type: 'boolean' },
      'skip-targets': { type: 'boolean' },
      'skip-wrk': { type: 'boolean' },
      target: { type: 'string' },
      token: { type: 'string' },
      scale: { type: 'string' },
      'duration-scale': { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      out: { type: 'string' },
      stack: { type: 'string' },
      'baseline-only': { type: 'boolean' },
      'skip-baseline': { type: 'boolean' },
      'baseline-duration': { type: 'string' },
      'baseline-connections': { type: 'string' },
      progress: { type: 'string' },
      'allow-remote': { type: 'boolean' },
      strict: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/**
 * The scenario definitions for these options: scaled, with `--rate` applied to the open-model ones and
 * `--duration` to the fixed-duration ones.
 */
export function scenarioDefinitions(
  options: Pick<CliOptions, 'scale' | 'rate'> & Partial<Pick<CliOptions, 'durationMs'>>,
): Record<ScenarioName, ScenarioDefinition> {
  const { rate, durationMs } = options;
  return Object.fromEntries(
    Object.entries(defineScenarios(options.scale)).map(([name, d]) => {
      let executor = d.executor;
      if (rate !== undefined && executor.executor === 'constant-arrival-rate') executor = { ...executor, rate };
      if (durationMs !== undefined && executor.executor !== 'ramping-vus') {
        executor = { ...executor, duration: formatDuration(durationMs) };
      }
      return [name, { ...d, executor }];
    }),
  ) as Record<ScenarioName, ScenarioDefinition>;
}
