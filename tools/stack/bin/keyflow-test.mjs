#!/usr/bin/env node
// `npm test` and CI: start the test stack, run every vitest project against it, always stop it, and end with
// exactly one summary line: `N passed, N failed[, N skipped]`.
//
// The runs overlap (test-plan.mjs): the workspace checks run while the stack starts and then while the suites that
// restart the whole stack run; everything else (unit, integration, the other e2e suites) runs after both. The merged vitest report is kept
// in test-results/vitest-report.json, each file's time in test-results/test-file-times.json; the slowest files and
// each step's time are printed before the summary.
//
//   KEYFLOW_TEST_REUSE_STACK=1  use a healthy test stack that is already running instead of starting one
//   KEYFLOW_TEST_KEEP_STACK=1   leave the test stack running afterwards (with REUSE: fast re-runs)
//   extra arguments go to vitest: `npm test -- --project unit`, `npm test -- libs/cache`
//
// The test stack has fixed ports and one directory, so two runs on one machine (two checkouts, say) would tear down
// each other's servers: a run waits for the one before it (`flock` on LOCK_FILE) and says so.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap, REPO_ROOT, stackMainArgs } from './bootstrap.mjs';
import { mergeVitestReports, planTestRuns, projectNames, slowestFiles, STACK_RESTART_SUITES } from './test-plan.mjs';
import { formatSummary, summarizeVitestReport } from './test-summary.mjs';

const TOPOLOGY = 'deploy/topologies/test.yaml';
/** Must match `stackDir` in the test topology. */
const STACK_FILE = '/tmp/keyflow-test/stack.json';
// What tests leave for people to look at (the console's screenshots): kept after the run, replaced by the next one.
const OUTPUT_DIR = join(REPO_ROOT, 'test-results');

const LOCK_FILE = '/tmp/keyflow-test.lock';
const FILE_TIMES_REPORTER = join(REPO_ROOT, 'tools/stack/bin/file-times-reporter.mjs');

if (process.env.KEYFLOW_TEST_LOCK_HELD !== '1') {
  const wait = spawnSync('flock', ['--nonblock', LOCK_FILE, 'true']);
  if (wait.status !== 0) console.log(`[keyflow-test] another test run holds ${LOCK_FILE}: waiting for it to finish`);
  const locked = spawnSync('flock', [LOCK_FILE, process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, KEYFLOW_TEST_LOCK_HELD: '1' },
  });
  process.exit(locked.status ?? 1);
}

function stack(command, { quiet = false, extra = [] } = {}) {
  const res = spawnSync(process.execPath, stackMainArgs([command, '--topology', TOPOLOGY, ...extra]), {
    cwd: REPO_ROOT,
    stdio: quiet ? 'ignore' : 'inherit',
  });
  return res.status ?? 1;
}

function say(message) {
  console.log(`[keyflow-test] ${message}`);
}

bootstrap(REPO_ROOT);
// Ctrl-C stops vitest (it shares our process group); we carry on to stop the stack and summarise.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);

const keep = process.env.KEYFLOW_TEST_KEEP_STACK === '1';
const plan = planTestRuns(
  process.argv.slice(2),
  projectNames(readFileSync(join(REPO_ROOT, 'vitest.config.ts'), 'utf8')),
);
const reportDir = mkdtempSync(join(tmpdir(), 'keyflow-vitest-'));
const times = [];
const started = Date.now();
const seconds = (since) => Math.round((Date.now() - since) / 1000);

/**
 * One vitest run (asynchronous: others may run meanwhile); resolves with whether it passed and its JSON report, if
 * any. With `log`, its output goes to that file and is printed when it ends, so two runs never mix their lines.
 */
async function vitestRun(name, args, { log } = {}) {
  const reportFile = join(reportDir, `${name}.json`);
  const timesFile = join(reportDir, `${name}-file-times.json`);
  const t0 = Date.now();
  const fd = log ? openSync(log, 'w') : undefined;
  const child = spawn(
    'npx',
    [
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile=${reportFile}`,
      `--reporter=${FILE_TIMES_REPORTER}`,
      ...args,
    ],
    {
      cwd: REPO_ROOT,
      stdio: fd === undefined ? 'inherit' : ['ignore', fd, fd],
      env: {
        ...process.env,
        KEYFLOW_STACK_FILE: STACK_FILE,
        KEYFLOW_TEST_OUTPUT_DIR: OUTPUT_DIR,
        KEYFLOW_TEST_FILE_TIMES: timesFile,
      },
    },
  );
  const res = await new Promise((resolveRun) => child.on('close', (status, signal) => resolveRun({ status, signal })));
  if (fd !== undefined) {
    closeSync(fd);
    say(`${name} (${args.filter((a) => !a.startsWith('-')).join(', ')}): its output`);
    process.stdout.write(readFileSync(log, 'utf8'));
  }
  times.push(`${name} ${seconds(t0)} s`);
  const report = existsSync(reportFile) ? JSON.parse(readFileSync(reportFile, 'utf8')) : undefined;
  // No report means vitest itself broke: count that as a failure rather than print a green-looking line.
  if (!report) say(`vitest (${name}) wrote no report (exit ${res.status ?? res.signal}); counting it as 1 failure`);
  else if (res.status !== 0 && summarizeVitestReport(report).failed === 0)
    say(`vitest (${name}) exited with ${res.status ?? res.signal}`);
  const fileTimes = existsSync(timesFile) ? JSON.parse(readFileSync(timesFile, 'utf8')) : [];
  return { ok: res.status === 0, report, fileTimes };
}

/**
 * Resets and starts the test stack in a child process whose output goes to a file (printed once it is up), so the
 * stack-free projects can run meanwhile with their output on the terminal. Resolves with whether it started.
 */
function startStack() {
  const reuse = process.env.KEYFLOW_TEST_REUSE_STACK === '1' && stack('status', { quiet: true }) === 0;
  if (reuse) {
    say(`reusing the running test stack (${STACK_FILE})`);
    return Promise.resolve(true);
  }
  const t0 = Date.now();
  const log = join(reportDir, 'stack-up.log');
  const fd = openSync(log, 'w');
  const step = (command, extra = []) =>
    new Promise((resolveStep) => {
      const child = spawn(process.execPath, stackMainArgs([command, '--topology', TOPOLOGY, ...extra]), {
        cwd: REPO_ROOT,
        stdio: ['ignore', fd, fd],
      });
      child.on('close', (code) => resolveStep(code ?? 1));
    });
  say(`starting the test stack (${TOPOLOGY}) in the background; its output follows once it is up`);
  // Every run starts from an empty store: whatever an earlier run left (running or stopped) is discarded.
  return step('reset', ['--yes'])
    .then(() => step('up'))
    .then((code) => {
      closeSync(fd);
      process.stdout.write(readFileSync(log, 'utf8'));
      times.push(`stack reset+up ${seconds(t0)} s`);
      if (code !== 0) say('the test stack did not start: running the tests anyway; tests that need it will fail');
      return code === 0;
    });
}

// The stack only when a project needs it (`npm test -- --project unit` starts none).
const stackStarted = plan.late || plan.alongside ? startStack() : Promise.resolve(true);
const first = await Promise.all([
  plan.early ? vitestRun('stack-free', plan.early) : undefined,
  stackStarted.then(() => {
    if (!plan.alongside) return undefined;
    const log = join(reportDir, 'stack-restarts.log');
    say(`running ${STACK_RESTART_SUITES.join(', ')} next to the checks; output when it ends (${log})`);
    return vitestRun('stack-restarts', plan.alongside, { log });
  }),
]);
const runs = first.filter((r) => r !== undefined);
if (plan.late) runs.push(await vitestRun('with-stack', plan.late));
if (existsSync(join(OUTPUT_DIR, 'console'))) say(`test output (screenshots): ${OUTPUT_DIR}`);

if (!plan.late && !plan.alongside) {
  // no stack was started
} else if (keep)
  say(
    `leaving the test stack running (KEYFLOW_TEST_KEEP_STACK=1); stop it with: node tools/stack/bin/keyflow-stack.mjs down --topology ${TOPOLOGY}`,
  );
else {
  const t0 = Date.now();
  if (stack('reset', { extra: ['--yes'] }) !== 0) say('stopping the test stack failed: see above');
  times.push(`stack reset ${seconds(t0)} s`);
}

const reports = runs.map((r) => r.report).filter((r) => r !== undefined);
const merged = mergeVitestReports(reports);
let summary = summarizeVitestReport(merged);
summary = { ...summary, failed: summary.failed + (runs.length - reports.length) };
let ok = runs.every((r) => r.ok) && summary.failed === 0;
if (reports.length > 0 && merged.testResults.length === 0) {
  // Each run passes with no test files of its own; together they must have found some.
  say('no test files matched');
  ok = false;
  summary = { ...summary, failed: Math.max(summary.failed, 1) };
}
rmSync(reportDir, { recursive: true, force: true });
if (reports.length > 0) {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  writeFileSync(join(OUTPUT_DIR, 'vitest-report.json'), JSON.stringify(merged));
  const fileTimes = runs.flatMap((r) => r.fileTimes);
  writeFileSync(join(OUTPUT_DIR, 'test-file-times.json'), JSON.stringify(fileTimes, null, 1));
  say('slowest test files, hooks included (every file: test-results/test-file-times.json):');
  for (const line of slowestFiles(fileTimes, REPO_ROOT)) console.log(line);
}
say(`time: ${times.join('; ')}; ${seconds(started)} s in all`);
console.log(formatSummary(summary));
process.exit(ok ? 0 : 1);
