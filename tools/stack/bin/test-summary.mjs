// Turns vitest's JSON report into the one line `npm test` ends with. Plain ESM: keyflow-test.mjs imports it.

/**
 * Counts from a vitest JSON report. A test file that failed without running any test (an import error, a
 * failing beforeAll) counts as one failure, so a broken suite never reads as green.
 */
export function summarizeVitestReport(report) {
  const brokenSuites = (report.testResults ?? []).filter(
    (suite) => suite.status === 'failed' && (suite.assertionResults ?? []).length === 0,
  ).length;
  return {
    passed: report.numPassedTests ?? 0,
    failed: (report.numFailedTests ?? 0) + brokenSuites,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
  };
}

/** `N passed, N failed`, with `, N skipped` only when something was skipped. */
export function formatSummary({ passed, failed, skipped }) {
  return skipped > 0 ? `${passed} passed, ${failed} failed, ${skipped} skipped` : `${passed} passed, ${failed} failed`;
}
