import { existsSync, readFileSync } from 'node:fs';

/** The last `lines` lines of a log file, for error messages that must show the evidence. */
export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return `(no log at ${file})`;
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}
