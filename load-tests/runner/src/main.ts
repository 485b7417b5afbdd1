/**
 * keyflow load runner: `npm run bench -- [--scenario name|all] [--target url] [--scale 0.1] [--out dir] …`
 * (`--help` lists every flag). Runs the scenarios of load-tests/scenarios with undici, after a baseline measurement,
 * and writes JSON and Markdown reports. See load-tests/README.md.
 */
import { findRepoRoot } from '@keyflow/testing';
import { executorDurationMs } from '../../scenarios/scenarios';
import { BenchService } from './bench.service';
import { CliUsageError, parseCliOptions, scenarioDefinitions, USAGE, type CliOptions } from './cli/cli-options.util';
import { describeExecutor } from './load/scenario-runner.service';
import { targetRunMs } from './targets/target-scenarios.util';

function listScenarios(options: CliOptions): void {
  const scenarios = scenarioDefinitions(options);
  for (const name of options.scenarios) {
    const s = scenarios[name];
    console.log(`${name} (${(executorDurationMs(s.executor) / 1000).toFixed(0)} s): ${s.description}`);
    console.log(`  ${describeExecutor(s.executor)}; targets: ${s.targets.join('; ')}`);
  }
  if (options.targets !== 'off') {
    const seconds = targetRunMs(options.scale) / 1000;
    console.log(
      `targets (issue 14's table): GET /health/live, cache-hit GET and PUT /store at 64 connections for ${seconds} s ` +
        `each, with the Node runner${options.skipWrk ? '' : ' and with wrk'}; the reference profile and ` +
        '1,000 writes/s for 60 s × scale with the Node runner',
    );
  }
}

async function main(): Promise<number> {
  const root = findRepoRoot(__dirname) ?? process.cwd();
  let options: CliOptions;
  try {
    options = parseCliOptions(process.argv.slice(2), process.env, root);
  } catch (error: unknown) {
    if (error instanceof CliUsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (options.list) {
    listScenarios(options);
    return 0;
  }

  // First Ctrl-C: stop starting iterations, finish, clean up and still write the report. Second: leave now
  // (the baseline's exit hook still stops its nginx and hello server).
  const controller = new AbortController();
  const onSignal = (): void => {
    if (controller.signal.aborted) process.exit(130);
    console.error('\ninterrupted: stopping the load and writing the report (again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const run = await new BenchService().run(options, {
    root,
    command: ['npm run bench --', ...process.argv.slice(2)].join(' '),
    log: (line) => console.log(line),
    signal: controller.signal,
  });
  return run.exitCode;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
