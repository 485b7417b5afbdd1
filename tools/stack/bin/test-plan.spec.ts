import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  mergeVitestReports,
  planTestRuns,
  projectNames,
  slowestFiles,
  OVERLAPPING_PROJECTS,
  STACK_FREE_PROJECTS,
  STACK_RESTART_SUITES,
} from './test-plan.mjs';

const ALL = ['unit', 'integration', 'checks', 'e2e'];

describe(projectNames.name, () => {
  it('should read the project names of a vitest config', () => {
    const text = `projects: [
      { ...shared, test: { name: 'unit', include: ['**/*.spec.ts'] } },
      { test: { name: "checks", include: ['tools/ci/**/*.check-spec.ts'], testTimeout: 600_000 } },
    ]`;
    expect(projectNames(text)).toEqual(['unit', 'checks']);
  });

  it('should find the stack-free projects and the e2e project in vitest.config.ts', () => {
    const names = projectNames(readFileSync(resolve(__dirname, '../../../vitest.config.ts'), 'utf8'));
    expect(names).toEqual(expect.arrayContaining([...STACK_FREE_PROJECTS, 'integration', 'e2e']));
  });
});

describe(planTestRuns.name, () => {
  const lifecycle = 'tools/stack/e2e/lifecycle.e2e-spec.ts';

  it('should run the checks while the stack starts and the restart suites run, and every other project after', () => {
    expect(STACK_RESTART_SUITES).toEqual([lifecycle]);
    expect(planTestRuns([], ALL)).toEqual({
      early: ['--project', 'checks', '--passWithNoTests'],
      alongside: ['--project', 'e2e', '--passWithNoTests', lifecycle],
      late: [
        '--project',
        'unit',
        '--project',
        'integration',
        '--project',
        'e2e',
        '--passWithNoTests',
        '--exclude',
        lifecycle,
      ],
    });
  });

  it('should overlap only stack-free projects', () => {
    for (const project of OVERLAPPING_PROJECTS) expect(STACK_FREE_PROJECTS).toContain(project);
  });

  it('should name restart suites that exist', () => {
    for (const file of STACK_RESTART_SUITES) expect(existsSync(resolve(__dirname, '../../..', file)), file).toBe(true);
  });

  it('should run a project it does not know (a new one) against the stack, after the restart suites', () => {
    expect(planTestRuns([], [...ALL, 'alerts']).late).toEqual([
      '--project',
      'unit',
      '--project',
      'integration',
      '--project',
      'e2e',
      '--project',
      'alerts',
      '--passWithNoTests',
      '--exclude',
      lifecycle,
    ]);
  });

  it('should run stack-free projects alone in one run, with no stack', () => {
    expect(planTestRuns(['--project=unit'], ALL)).toEqual({
      early: ['--project', 'unit'],
      alongside: undefined,
      late: undefined,
    });
    expect(planTestRuns(['--project', 'unit', '--project', 'checks', 'tools/stack'], ALL)).toEqual({
      early: ['--project', 'unit', '--project', 'checks', 'tools/stack'],
      alongside: undefined,
      late: undefined,
    });
  });

  it('should run only what --project names, in one run and without --passWithNoTests when it is one side', () => {
    expect(planTestRuns(['--project', 'e2e', lifecycle], ALL)).toEqual({
      early: undefined,
      alongside: undefined,
      late: ['--project', 'e2e', lifecycle],
    });
    expect(planTestRuns(['--project', 'unit', '--project', 'integration'], ALL)).toEqual({
      early: undefined,
      alongside: undefined,
      late: ['--project', 'unit', '--project', 'integration'],
    });
  });

  it('should give file filters and other options to every run, and keep the restart suites in the last one then', () => {
    expect(planTestRuns(['libs/cache', '-t', 'evict'], ALL)).toEqual({
      early: ['--project', 'checks', '--passWithNoTests', 'libs/cache', '-t', 'evict'],
      alongside: undefined,
      late: [
        '--project',
        'unit',
        '--project',
        'integration',
        '--project',
        'e2e',
        '--passWithNoTests',
        'libs/cache',
        '-t',
        'evict',
      ],
    });
  });

  it('should leave a project pattern to the run after the stack is up', () => {
    expect(planTestRuns(['--project', 'e2e*'], ALL)).toEqual({
      early: undefined,
      alongside: undefined,
      late: ['--project', 'e2e*'],
    });
  });
});

describe(mergeVitestReports.name, () => {
  it('should add the counters and concatenate the files', () => {
    const merged = mergeVitestReports([
      { numPassedTests: 3, numFailedTests: 1, numPendingTests: 1, startTime: 20, testResults: [{ name: 'a' }] },
      { numPassedTests: 4, numTodoTests: 2, startTime: 10, success: true, testResults: [{ name: 'b' }] },
    ]);
    expect(merged).toMatchObject({
      numPassedTests: 7,
      numFailedTests: 1,
      numPendingTests: 1,
      numTodoTests: 2,
      startTime: 10,
      testResults: [{ name: 'a' }, { name: 'b' }],
    });
  });
});

describe(slowestFiles.name, () => {
  it('should list the slowest files first, relative to the root', () => {
    const times = [
      { file: '/repo/a.spec.ts', project: 'unit', seconds: 1.5 },
      { file: '/repo/b.e2e-spec.ts', project: 'e2e', seconds: 120 },
      { file: '/repo/c.spec.ts', project: 'unit', seconds: 0.2 },
    ];
    expect(slowestFiles(times, '/repo', 2)).toEqual(['  120.0 s  b.e2e-spec.ts', '    1.5 s  a.spec.ts']);
  });
});
