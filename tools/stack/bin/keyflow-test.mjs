#!/usr/bin/env node
// `npm test` and CI: start the test stack, run every vitest project against it, always stop it, and end with
// exactly one summary line: `N passed, N failed[, N skipped]`.
//
//   KEYFLOW_TEST_REUSE_STACK=1  use a healthy test stack that is already running instead of starting one
//   KEYFLOW_TEST_KEEP_STACK=1   leave the test stack running afterwards (with REUSE: fast re-runs)
//   extra arguments go to vitest: `npm test -- --project unit`, `npm test -- libs/cache`
//
// The test stack has fixed ports and one directory, so two runs on one machine (two checkouts, say) would tear down
// each other's servers: a run waits for the one before it (`flock` on LOCK_FILE) and says so.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap, REPO_ROOT, stackMainArgs } from './bootstrap.mjs';
import { formatSummary, summarizeVitestReport } from './test-summary.mjs';

const TOPOLOGY = 'deploy/topologies/test.yaml';
/** Must match `stackDir` in the test topology. */
const STACK_FILE = '/tmp/keyflow-test/stack.json';
// What tests leave for people to look at (the console's screenshots): kept after the run, replaced by the next one.
const OUTPUT_DIR = join(REPO_ROOT, 'test-results');

const LOCK_FILE = '/tmp/keyflow-test.lock';

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
if (process.env.KEYFLOW_TEST_REUSE_STACK === '1' && stack('status', { quiet: true }) === 0) {
  say(`reusing the running test stack (${STACK_FILE})`);
} else {
  // Every run starts from an empty store: whatever an earlier run left (running or stopped) is discarded.
  stack('reset', { extra: ['--yes'] });
  say(`starting the test stack (${TOPOLOGY})`);
  if (stack('up') !== 0) say('the test stack did not start: running the tests anyway; tests that need it will fail');
}

const reportDir = mkdtempSync(join(tmpdir(), 'keyflow-vitest-'));
const reportFile = join(reportDir, 'vitest-report.json');
const vitest = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${reportFile}`, ...process.argv.slice(2)],
  {
    cwd: REPO_ROOT,
    stdio: 'inherit',
    env: { ...process.env, KEYFLOW_STACK_FILE: STACK_FILE, KEYFLOW_TEST_OUTPUT_DIR: OUTPUT_DIR },
  },
);
if (existsSync(OUTPUT_DIR)) say(`test output (screenshots): ${OUTPUT_DIR}`);

if (keep)
  say(
    `leaving the test stack running (KEYFLOW_TEST_KEEP_STACK=1); stop it with: node tools/stack/bin/keyflow-stack.mjs down --topology ${TOPOLOGY}`,
  );
else if (stack('reset', { extra: ['--yes'] }) !== 0) say('stopping the test stack failed: see above');

let summary;
if (existsSync(reportFile)) {
  summary = summarizeVitestReport(JSON.parse(readFileSync(reportFile, 'utf8')));
} else {
  // No report means vitest itself broke: count that as a failure rather than print a green-looking line.
  say(`vitest wrote no report (exit ${vitest.status ?? vitest.signal}); counting the run as 1 failure`);
  summary = { passed: 0, failed: 1, skipped: 0 };
}
rmSync(reportDir, { recursive: true, force: true });
const ok = vitest.status === 0 && summary.failed === 0;
if (vitest.status !== 0 && summary.failed === 0) say(`vitest exited with ${vitest.status ?? vitest.signal}`);
console.log(formatSummary(summary));
process.exit(ok ? 0 : 1);
