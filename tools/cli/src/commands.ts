import { createWriteStream, rmSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CliOptions, Command } from './cli-args.util';
import { UsageError } from './usage.exception';
import { CliError } from './cli.exception';
import { checkBackupLines, inFileTerms, readLines, restoreChunks } from './backup-file.util';
import { credentialsFilePath, resolveConnection, storeCredential, type ConfigSources } from './config.util';
import { ApiError, KeyflowClient, type RestoreAnswer } from './keyflow-client';
import { count, formatEntry, formatEvent, formatListItem, formatWrite, Progress, type Output } from './output.util';
import { SseParser } from '@keyflow/client';
import type { Terminal } from './terminal.util';

/** What a command needs from outside: where to print, the terminal (stdin, prompts), the settings' sources. */
export interface CommandContext {
  output: Output;
  terminal: Terminal;
  sources: ConfigSources;
  /** Stdout as a stream, for `export` without `--out`. */
  stdout: NodeJS.WritableStream;
  /**
   * Resolves when the user asks to stop (Ctrl-C): `watch` ends cleanly then. Only `watch` asks, so every other
   * command keeps Ctrl-C's default (the process ends at once).
   */
  interrupted(): Promise<void>;
}

/** Runs one command; returns its exit code. Errors propagate (main prints them). */
export async function runCommand({ command, json }: CliOptions, context: CommandContext): Promise<number> {
  const connection = resolveConnection(context.sources);
  const client = new KeyflowClient(connection.url, command.name === 'login' ? undefined : connection.token);
  const { output } = context;
  switch (command.name) {
    case 'get':
      output.out(formatEntry(await client.getKey(command.key, { strong: command.strong }), json));
      return 0;
    case 'put': {
      const value = command.value ?? (await valueFromStdin(context.terminal));
      const answer = await client.putKey(command.key, value, command);
      output.out(formatWrite(command.key, answer, json));
      return 0;
    }
    case 'del':
      output.out(formatWrite(command.key, await client.deleteKey(command.key, command), json));
      return 0;
    case 'ls':
      return list(client, command, json, output);
    case 'watch':
      return watch(client, command, json, context);
    case 'export':
      return exportBackup(client, command, json, context);
    case 'import':
      return importBackup(client, command, json, output);
    case 'login':
      return login(client, command, json, context);
  }
}

async function valueFromStdin(terminal: Terminal): Promise<string> {
  if (terminal.stdinIsTty) throw new UsageError('put needs VALUE, or the value on stdin', 'put');
  const text = (await terminal.readStdin()).trim();
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError('the value on stdin is not JSON (a string needs quotes: "text")', 'put');
  }
  return text;
}

/** Every page of the prefix, in key order, printed as it arrives. */
async function list(client: KeyflowClient, command: Extract<Command, { name: 'ls' }>, json: boolean, output: Output) {
  let cursor: string | undefined;
  let listed = 0;
  do {
    const page = await client.listPage(command.prefix, { ...command, ...(cursor !== undefined ? { cursor } : {}) });
    for (const item of page.items) output.out(formatListItem(item, json));
    listed += page.items.length;
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
  if (!json) output.err(`${count(listed)} key${listed === 1 ? '' : 's'}`);
  return 0;
}

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5_000;

/** Problems worth reconnecting after: the gateway or an API instance is away for a moment. */
const retryable = (err: unknown): boolean =>
  err instanceof CliError || (err instanceof ApiError && [502, 503, 504].includes(err.status));

/**
 * Follows the prefix's changes. A dropped connection (the stream ends, or the gateway or an API goes away) is
 * reconnected with `Last-Event-ID`, the revision of the last event printed, so the service resumes right after it:
 * nothing missed, nothing printed twice. Any other answer (410: that revision is too old, re-list; 401; 404) ends it.
 */
async function watch(
  client: KeyflowClient,
  command: Extract<Command, { name: 'watch' }>,
  json: boolean,
  context: CommandContext,
): Promise<number> {
  const { output } = context;
  const stop = new AbortController();
  const interrupted = context.interrupted();
  void interrupted.then(() => stop.abort());
  let lastEventId: string | undefined;
  let received = 0;
  let delay = RECONNECT_FIRST_MS;
  while (!stop.signal.aborted) {
    try {
      const body = await client.watch(command.prefix, {
        ...(lastEventId !== undefined ? { lastEventId } : {}),
        ...(command.fromRevision !== undefined ? { fromRevision: command.fromRevision } : {}),
        signal: stop.signal,
      });
      delay = RECONNECT_FIRST_MS;
      const parser = new SseParser();
      const decoder = new TextDecoder();
      for await (const chunk of Readable.fromWeb(body)) {
        for (const event of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) {
          if (event.id !== undefined) lastEventId = event.id;
          output.out(formatEvent(event, json));
          if (command.maxEvents !== undefined && ++received >= command.maxEvents) {
            stop.abort();
            return 0;
          }
        }
      }
      if (stop.signal.aborted) return 0;
      output.err(`watch: the stream ended; reconnecting${lastEventId ? ` after revision ${lastEventId}` : ''}`);
    } catch (err) {
      if (stop.signal.aborted) return 0;
      if (!retryable(err) && !isDroppedStream(err)) throw err;
      output.err(
        `watch: ${err instanceof Error ? err.message : String(err)}; reconnecting in ${delay} ms${lastEventId ? ` after revision ${lastEventId}` : ''}`,
      );
    }
    await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), interrupted]);
    delay = Math.min(delay * 2, RECONNECT_MAX_MS);
  }
  return 0;
}

/** A response body cut in the middle (the server or a proxy went away): undici's `terminated`, a reset socket. */
function isDroppedStream(err: unknown): boolean {
  const cause = (err as { cause?: { message?: unknown } } | null)?.cause?.message;
  const message = err instanceof Error ? `${err.message} ${typeof cause === 'string' ? cause : ''}` : '';
  return err instanceof TypeError || /terminated|ECONNRESET|socket|other side closed/i.test(message);
}

/**
 * Saves `GET /v1/backup` (one consistent snapshot) to a file, or to stdout. The service says up front how many lines
 * the snapshot holds; a stream that ends short of that was cut, and fails the export. A file is written under a
 * temporary name and renamed only when complete, so a file of that name is always a whole export.
 */
async function exportBackup(
  client: KeyflowClient,
  command: Extract<Command, { name: 'export' }>,
  json: boolean,
  context: CommandContext,
): Promise<number> {
  const backup = await client.backup(command.prefix !== undefined ? { prefix: command.prefix } : {});
  const progress = new Progress('export', context.output, { total: backup.keys, quiet: command.quiet });
  const partial = command.out !== undefined ? `${command.out}.partial` : undefined;
  const target = partial !== undefined ? createWriteStream(partial, { mode: 0o600 }) : context.stdout;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      let lines = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      progress.add(lines);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(backup.body), counter, target, {
      end: partial !== undefined,
    });
  } catch (err) {
    if (partial !== undefined) rmSync(partial, { force: true });
    throw new CliError(
      `the export stream broke after ${count(progress.count)} of ${count(backup.keys)} keys (${err instanceof Error ? err.message : String(err)})${command.out ? `; ${command.out} was not written` : ''}`,
    );
  }
  if (progress.count !== backup.keys) {
    if (partial !== undefined) rmSync(partial, { force: true });
    throw new CliError(
      `the export ended after ${count(progress.count)} of ${count(backup.keys)} keys: the stream was cut${command.out ? `; ${command.out} was not written` : ''}`,
    );
  }
  if (partial !== undefined && command.out !== undefined) renameSync(partial, command.out);
  progress.finish(` keys, snapshot of ${backup.snapshot}${command.out ? ` → ${command.out}` : ''}`);
  if (json && command.out !== undefined) {
    context.output.out(JSON.stringify({ file: command.out, keys: backup.keys, snapshot: backup.snapshot }));
  }
  return 0;
}

/**
 * Restores an export. The whole file is checked first, so a bad file writes nothing; then it goes in requests of up
 * to 1,000 lines, each restored in one transaction. If a request fails, the ones before it stay restored: running the
 * same import again restores the rest (keys that exist are left as they are).
 */
async function importBackup(
  client: KeyflowClient,
  command: Extract<Command, { name: 'import' }>,
  json: boolean,
  output: Output,
): Promise<number> {
  const checking = new Progress('import: checked', output, { quiet: command.quiet, every: 50_000 });
  const total = await checkBackupLines(readLines(command.in), command.in, () => checking.add(1));
  const progress = new Progress('import', output, { total, quiet: command.quiet });
  const totals: RestoreAnswer = { received: 0, restored: 0, existing: 0, expired: 0 };
  for await (const chunk of restoreChunks(readLines(command.in))) {
    let answer: RestoreAnswer;
    try {
      answer = await client.restore(chunk.body);
    } catch (err) {
      const done = `lines 1–${chunk.firstLine - 1} were restored (run the import again to continue: existing keys are left alone)`;
      if (err instanceof ApiError) {
        throw new ApiError({
          ...err.problem,
          detail: `${inFileTerms(err.problem.detail, chunk, command.in)}; ${chunk.firstLine > 1 ? done : 'nothing was imported'}`,
        });
      }
      throw err;
    }
    for (const k of ['received', 'restored', 'existing', 'expired'] as const) totals[k] += answer[k];
    progress.add(chunk.lines);
  }
  progress.finish(
    ` lines: ${count(totals.restored)} restored, ${count(totals.existing)} already existed (left as they were), ${count(totals.expired)} expired`,
  );
  if (json) output.out(JSON.stringify({ file: command.in, ...totals }));
  else if (totals.existing > 0) {
    output.err(`import: ${count(totals.existing)} keys already existed; a restore never overwrites a key`);
  }
  return 0;
}

/**
 * Logs in with a username and password, creates an API token with the session, ends the session and stores the
 * token for this gateway in the credentials file (0600). Later commands use it as `Authorization: Bearer`.
 */
async function login(
  client: KeyflowClient,
  command: Extract<Command, { name: 'login' }>,
  json: boolean,
  context: CommandContext,
): Promise<number> {
  const { terminal } = context;
  const username = command.username ?? (await terminal.prompt('username: '));
  let password: string;
  if (command.passwordStdin) password = (await terminal.readStdin()).replace(/\r?\n$/, '');
  else if (terminal.stdinIsTty) password = await terminal.prompt('password: ', { hidden: true });
  else throw new UsageError('no terminal to ask the password on: pass it on stdin with --password-stdin', 'login');
  const cookie = await client.login(username, password);
  const name = command.tokenName ?? `keyflow-cli@${hostname()}`;
  const token = await client.createToken(cookie, name, command.expiresIn);
  await client.logout(cookie).catch(() => undefined);
  const file = credentialsFilePath(context.sources);
  storeCredential(file, client.url, {
    token: token.token,
    tokenId: token.id,
    tokenName: token.name,
    username,
    createdAt: token.createdAt,
  });
  context.output.out(
    json
      ? JSON.stringify({ url: client.url, username, tokenId: token.id, tokenName: token.name, credentialsFile: file })
      : `logged in to ${client.url} as ${username}; API token "${token.name}" (${token.id}) stored in ${file}`,
  );
  return 0;
}
