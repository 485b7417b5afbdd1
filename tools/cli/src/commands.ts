import { createWriteStream, rmSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CliOptions, Command } from './cli-args.util';
import { UsageError } from './usage.exception';
import { CliError } from './cli.exception';
import { checkBackupLines, inFileTerms, readLines, restoreChunks } from './backup-file.util';
import { credentialsFilePath, resolveConnection, storeCredential, type ConfigSources } from './config.util';
import {
  KeyflowClient,
  KeyflowProblem,
  problemOf,
  type PutOptions,
  type RestoreResult,
  type WatchEvent,
} from '@keyflow/client';
import { count, formatEntry, formatEvent, formatListItem, formatWrite, Progress, type Output } from './output.util';
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
export async function runCommand(options: CliOptions, context: CommandContext): Promise<number> {
  const connection = resolveConnection(context.sources);
  // @keyflow/client: reads and writes (each with its own Idempotency-Key) are retried after a lost connection, a
  // timeout or a 503, so a retried write is never applied twice.
  const client = new KeyflowClient({
    baseUrl: connection.url,
    ...(options.command.name !== 'login' && connection.token ? { token: connection.token } : {}),
  });
  try {
    return await run(client, options, context);
  } catch (err) {
    throw unreachable(err, connection.url);
  }
}

/** A request that got no answer at all (refused, reset, timed out) as a `CliError` naming the service. */
function unreachable(err: unknown, url: string): unknown {
  if (!(err instanceof TypeError || (err instanceof DOMException && err.name === 'TimeoutError'))) return err;
  const cause = (err as { cause?: { message?: string } }).cause?.message ?? err.message;
  return new CliError(`cannot reach ${url}: ${cause}`);
}

async function run(client: KeyflowClient, { command, json }: CliOptions, context: CommandContext): Promise<number> {
  const { output } = context;
  switch (command.name) {
    case 'get': {
      // Not `client.get`: a missing key is an error here, with the service's own problem document.
      const { data, error, response } = await client.raw.GET('/v1/kv/{key}', {
        params: { path: { key: command.key }, query: command.strong ? { consistency: 'strong' } : {} },
      });
      if (error !== undefined || data === undefined) throw problemOf(response, error);
      output.out(formatEntry(data, json));
      return 0;
    }
    case 'put': {
      const value = command.value ?? (await valueFromStdin(context.terminal));
      // The value goes as the user wrote it (`putJson`): the CLI never re-serialises a value.
      const answer = await client.putJson(command.key, value, writeOptions(command));
      output.out(formatWrite(answer, json));
      return 0;
    }
    case 'del':
      output.out(formatWrite(await client.delete(command.key, writeOptions(command)), json));
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

/** The command's conditions and wait as @keyflow/client takes them (`--if-match '"3"'` is version 3). */
function writeOptions(command: { ifMatch?: string; ifNoneMatch?: boolean; wait?: number; ttl?: number }): PutOptions {
  const { ifMatch } = command;
  return {
    ...(ifMatch !== undefined ? { ifMatch: ifMatch === '*' ? '*' : Number(ifMatch.replaceAll('"', '')) } : {}),
    ...(command.ifNoneMatch ? { ifNoneMatch: '*' } : {}),
    ...(command.wait !== undefined ? { wait: command.wait } : {}),
    ...(command.ttl !== undefined ? { ttl: command.ttl } : {}),
  };
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
  let listed = 0;
  for await (const item of client.list(command.prefix, command)) {
    output.out(formatListItem(item, json));
    listed++;
  }
  if (!json) output.err(`${count(listed)} key${listed === 1 ? '' : 's'}`);
  return 0;
}

/**
 * Follows the prefix's changes with @keyflow/client's watch: a dropped connection (the stream ends, or the gateway or
 * an API goes away) is reconnected with `Last-Event-ID`, the revision of the last event printed, so the service
 * resumes right after it: nothing missed, nothing printed twice. Each reconnection is said on stderr. Any other
 * answer (410: that revision is too old, re-list; 401; 404) ends it with the problem.
 */
async function watch(
  client: KeyflowClient,
  command: Extract<Command, { name: 'watch' }>,
  json: boolean,
  context: CommandContext,
): Promise<number> {
  const { output } = context;
  const stop = new AbortController();
  void context.interrupted().then(() => stop.abort());
  let received = 0;
  const events = client.watch(command.prefix, {
    ...(command.fromRevision !== undefined ? { fromRevision: Number(command.fromRevision) } : {}),
    signal: stop.signal,
    onReconnect: (reason, after) =>
      output.err(`watch: ${reason}; reconnecting${after !== undefined ? ` after revision ${after}` : ''}`),
  });
  for await (const event of events as AsyncIterable<WatchEvent>) {
    output.out(formatEvent(event, json));
    if (command.maxEvents !== undefined && ++received >= command.maxEvents) {
      stop.abort();
      break;
    }
  }
  return 0;
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
  const totals: RestoreResult = { received: 0, restored: 0, existing: 0, expired: 0 };
  for await (const chunk of restoreChunks(readLines(command.in))) {
    let answer: RestoreResult;
    try {
      answer = await client.restore(chunk.body);
    } catch (err) {
      const done = `lines 1–${chunk.firstLine - 1} were restored (run the import again to continue: existing keys are left alone)`;
      if (err instanceof KeyflowProblem) {
        throw new KeyflowProblem({
          ...err.problem,
          detail: `${inFileTerms(err.problem.detail ?? err.title, chunk, command.in)}; ${chunk.firstLine > 1 ? done : 'nothing was imported'}`,
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
  await client.login(username, password);
  const name = command.tokenName ?? `keyflow-cli@${hostname()}`;
  const token = await client.createToken(name, command.expiresIn !== undefined ? { expiresIn: command.expiresIn } : {});
  await client.logout().catch(() => undefined);
  const file = credentialsFilePath(context.sources);
  storeCredential(file, client.baseUrl, {
    token: token.token,
    tokenId: token.id,
    tokenName: token.name,
    username,
    createdAt: token.createdAt,
  });
  context.output.out(
    json
      ? JSON.stringify({
          url: client.baseUrl,
          username,
          tokenId: token.id,
          tokenName: token.name,
          credentialsFile: file,
        })
      : `logged in to ${client.baseUrl} as ${username}; API token "${token.name}" (${token.id}) stored in ${file}`,
  );
  return 0;
}
