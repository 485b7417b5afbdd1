import { describe, expect, it } from 'vitest';
import { formatSummary, summarizeVitestReport } from './test-summary.mjs';

describe(summarizeVitestReport.name, () => {
  it('should count passed, failed and skipped (pending plus todo) tests', () => {
    expect(
      summarizeVitestReport({
        numPassedTests: 40,
        numFailedTests: 2,
        numPendingTests: 3,
        numTodoTests: 1,
        testResults: [],
      }),
    ).toEqual({ passed: 40, failed: 2, skipped: 4 });
  });

  it('should count a test file that failed without running a test as a failure', () => {
    const report = {
      numPassedTests: 5,
      numFailedTests: 0,
      testResults: [
        { name: 'a.spec.ts', status: 'passed', assertionResults: [{}, {}] },
        { name: 'broken.integration-spec.ts', status: 'failed', message: 'connect ECONNREFUSED', assertionResults: [] },
      ],
    };
    expect(summarizeVitestReport(report)).toEqual({ passed: 5, failed: 1, skipped: 0 });
  });

  it('should treat missing counters as zero', () => {
    expect(summarizeVitestReport({})).toEqual({ passed: 0, failed: 0, skipped: 0 });
  });
});

describe(formatSummary.name, () => {
  it('should print skipped only when something was skipped', () => {
    expect(formatSummary({ passed: 12, failed: 0, skipped: 0 })).toBe('12 passed, 0 failed');
    expect(formatSummary({ passed: 12, failed: 1, skipped: 3 })).toBe('12 passed, 1 failed, 3 skipped');
  });
});
