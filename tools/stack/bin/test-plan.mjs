// How `npm test` splits one vitest command line into runs that overlap, and what it reports about their time.
// Plain ESM: keyflow-test.mjs imports it.
//
// The workspace checks (lint, type-check, Prettier: minutes of CPU, no time limits that load could break) run while
// the test stack starts and then while the e2e suites that stop and restart the whole stack run (they wait on the
// servers and time nothing). Everything else runs after both, alone with the stack, as before: the unit specs too,
// whose 5 s limits a starting stack on two cores did break (load-tests' ScenarioRunner specs timed out).

/** Projects whose tests never use the test stack: `npm test` starts none when only these are asked for. */
export const STACK_FREE_PROJECTS = ['unit', 'checks'];

/** Stack-free projects that run next to the stack's start-up and restarts (CPU-heavy, with no tight time limits). */
export const OVERLAPPING_PROJECTS = ['checks'];

/** The project names in vitest.config.ts's text (`name: '…'` in `projects`). */
export function projectNames(configText) {
  return [...configText.matchAll(/\bname:\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
}

/**
 * E2e suites that restart the whole test stack (so nothing else may use it meanwhile) and time nothing: they run
 * first, next to the overlapping projects. Paths from the repository root.
 */
export const STACK_RESTART_SUITES = ['tools/stack/e2e/lifecycle.e2e-spec.ts'];

/**
 * Splits vitest arguments into the run that goes while the stack starts (`early`: OVERLAPPING_PROJECTS), the one
 * that goes next to it once the stack is up (`alongside`: STACK_RESTART_SUITES) and the one after both (`late`);
 * each is undefined when it has nothing to run, and only stack-free projects asked for make one `early` run with
 * no stack. `--project` selects as in vitest (exact names; a pattern with `*` or `!` is left to the late run, where
 * the stack is up). Any other argument (file filters, `-t`, `--bail`) goes to every run, and keeps the restart
 * suites in the late run: only a whole `npm test` (CI) runs them alongside. When several runs go, each passes with
 * no test files of its own (a file filter may match only one of them): the caller fails a run in which none found
 * any.
 */
export function planTestRuns(args, allProjects) {
  const requested = [];
  const rest = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--project' && i + 1 < args.length) requested.push(args[++i]);
    else if (arg.startsWith('--project=')) requested.push(arg.slice('--project='.length));
    else rest.push(arg);
  }
  const projects = requested.length > 0 ? requested : allProjects;
  const needStack = projects.some((p) => !STACK_FREE_PROJECTS.includes(p));
  const early = needStack ? projects.filter((p) => OVERLAPPING_PROJECTS.includes(p)) : projects;
  const late = needStack ? projects.filter((p) => !OVERLAPPING_PROJECTS.includes(p)) : [];
  const alongside = early.length > 0 && late.includes('e2e') && rest.length === 0;
  const split = early.length > 0 && late.length > 0;
  const run = (names, extra = []) => [
    ...names.flatMap((p) => ['--project', p]),
    ...(split ? ['--passWithNoTests'] : []),
    ...extra,
    ...rest,
  ];
  return {
    early: early.length > 0 ? run(early) : undefined,
    alongside: alongside ? run(['e2e'], STACK_RESTART_SUITES) : undefined,
    late:
      late.length > 0 ? run(late, alongside ? STACK_RESTART_SUITES.flatMap((f) => ['--exclude', f]) : []) : undefined,
  };
}

/** One report from several vitest JSON reports: counters added, test files concatenated. */
export function mergeVitestReports(reports) {
  const sum = (key) => reports.reduce((n, r) => n + (r[key] ?? 0), 0);
  return {
    numTotalTestSuites: sum('numTotalTestSuites'),
    numPassedTestSuites: sum('numPassedTestSuites'),
    numFailedTestSuites: sum('numFailedTestSuites'),
    numPendingTestSuites: sum('numPendingTestSuites'),
    numTotalTests: sum('numTotalTests'),
    numPassedTests: sum('numPassedTests'),
    numFailedTests: sum('numFailedTests'),
    numPendingTests: sum('numPendingTests'),
    numTodoTests: sum('numTodoTests'),
    startTime: Math.min(...reports.map((r) => r.startTime ?? Infinity)),
    success: reports.every((r) => r.success !== false),
    testResults: reports.flatMap((r) => r.testResults ?? []),
  };
}

/** The `count` test files that took longest (file-times-reporter.mjs's rows), as `  123.4 s  path` lines. */
export function slowestFiles(times, root, count = 10) {
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return [...times]
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, count)
    .map((t) => `${t.seconds.toFixed(1).padStart(7)} s  ${t.file.replace(prefix, '')}`);
}
