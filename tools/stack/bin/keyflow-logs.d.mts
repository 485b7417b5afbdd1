export interface LogSource {
  service: string;
  text: string;
  startTime?: number;
}
export interface TimedLine {
  time: number;
  order: number;
  service: string;
  requestId: string | undefined;
  line: string;
  source?: number;
}
export function parseLogLine(line: string): { time?: number; requestId?: string; service?: string };
export function timedLines(service: string, text: string, startTime?: number): TimedLine[];
export function mergeLogs(sources: LogSource[], filter?: { service?: string; request?: string }): TimedLine[];
export function formatLine(line: TimedLine): string;
