import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { MAX_RESTORE_BODY_BYTES, parseBackupLine } from '@keyflow/contracts';
import { CliError } from './cli.exception';

/** A line of a file, numbered from 1 as editors number them. */
export interface NumberedLine {
  number: number;
  text: string;
}

/** The lines of `file` (LF or CRLF), one at a time: a file of any size is read in constant memory. */
export async function* readLines(file: string): AsyncGenerator<NumberedLine> {
  const stream = createReadStream(file, { encoding: 'utf8' });
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  let number = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) yield { number: ++number, text };
}

/** Room in a restore request for the newlines; a line longer than this cannot be sent. */
const MAX_LINE_BYTES = MAX_RESTORE_BODY_BYTES - 1;

/**
 * Checks every line of a backup before anything is restored: each must be a backup line (`parseBackupLine`: the key,
 * the value as keyflow can store it, the version, the timestamps), fit in one restore request, and name a key no
 * earlier line named. Throws a `CliError` naming the file and the line number of the first bad line. Returns how many
 * lines there are. Remembers every key to find repeats: memory grows with the number of keys (their names only).
 */
export async function checkBackupLines(
  lines: AsyncIterable<NumberedLine>,
  file: string,
  onLine?: () => void,
): Promise<number> {
  const seen = new Map<string, number>();
  let total = 0;
  for await (const { number, text } of lines) {
    const problem = describeLine(text, number, seen);
    if (problem) throw new CliError(`${file} line ${number}: ${problem}; nothing was imported`);
    total = number;
    onLine?.();
  }
  return total;
}

function describeLine(text: string, number: number, seen: Map<string, number>): string | undefined {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_LINE_BYTES) return `the line is ${bytes} bytes; a line may be at most ${MAX_LINE_BYTES}`;
  const parsed = parseBackupLine(text);
  if ('problem' in parsed) return parsed.problem;
  const earlier = seen.get(parsed.entry.key);
  if (earlier !== undefined) return `the key ${JSON.stringify(parsed.entry.key)} is already on line ${earlier}`;
  seen.set(parsed.entry.key, number);
  return undefined;
}

/** A restore request: consecutive lines of the file, the number of the first one, the body to send. */
export interface RestoreChunk {
  firstLine: number;
  lines: number;
  body: string;
}

/**
 * Groups lines into restore requests of at most `maxLines` lines and `maxBytes` bytes (the gateways take 2 MiB), in
 * file order. A line that fits no request on its own was refused by `checkBackupLines` already.
 */
export async function* restoreChunks(
  lines: AsyncIterable<NumberedLine>,
  { maxLines = 1_000, maxBytes = MAX_RESTORE_BODY_BYTES }: { maxLines?: number; maxBytes?: number } = {},
): AsyncGenerator<RestoreChunk> {
  let texts: string[] = [];
  let bytes = 0;
  let firstLine = 1;
  for await (const { number, text } of lines) {
    const size = Buffer.byteLength(text, 'utf8') + 1;
    if (texts.length > 0 && (texts.length >= maxLines || bytes + size > maxBytes)) {
      yield { firstLine, lines: texts.length, body: `${texts.join('\n')}\n` };
      texts = [];
      bytes = 0;
    }
    if (texts.length === 0) firstLine = number;
    texts.push(text);
    bytes += size;
  }
  if (texts.length > 0) yield { firstLine, lines: texts.length, body: `${texts.join('\n')}\n` };
}

/** The service names a bad line by its number in the request (`line 3: …`): this names it by its number in the file. */
export function inFileTerms(detail: string, chunk: RestoreChunk, file: string): string {
  const match = /^line (\d+): /.exec(detail);
  if (!match) return `${file} lines ${chunk.firstLine}–${chunk.firstLine + chunk.lines - 1}: ${detail}`;
  return `${file} line ${chunk.firstLine + Number(match[1]) - 1}: ${detail.slice(match[0].length)}`;
}
