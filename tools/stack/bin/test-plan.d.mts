import type { VitestJsonReport } from './test-summary.mjs';

/** The parts of vitest's JSON report that the plan reads: counters, and each file's name and times. */
export interface TimedVitestReport extends VitestJsonReport {
  startTime?: number;
  success?: boolean;
  testResults?: Array<{
    name?: string;
    status?: string;
    message?: string;
    assertionResults?: unknown[];
    startTime?: number;
    endTime?: number;
  }>;
}

export const STACK_FREE_PROJECTS: string[];
export const OVERLAPPING_PROJECTS: string[];
export const STACK_RESTART_SUITES: string[];
export function projectNames(configText: string): string[];
export function planTestRuns(
  args: string[],
  allProjects: string[],
): { early?: string[]; alongside?: string[]; late?: string[] };
export function mergeVitestReports(reports: TimedVitestReport[]): TimedVitestReport;
/** A row of file-times-reporter.mjs. */
export interface FileTime {
  file: string;
  project: string;
  seconds: number;
}

export function slowestFiles(times: FileTime[], root: string, count?: number): string[];
