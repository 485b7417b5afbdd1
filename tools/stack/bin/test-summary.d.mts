export interface VitestJsonReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: { name?: string; status?: string; message?: string; assertionResults?: unknown[] }[];
}

export interface TestSummary {
  passed: number;
  failed: number;
  skipped: number;
}

export function summarizeVitestReport(report: VitestJsonReport): TestSummary;
export function formatSummary(summary: TestSummary): string;
