import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { stackFilePath } from '@keyflow/client/node';
import { CliError } from './cli.exception';

/** Where the CLI reads its settings from: the environment, the working directory, the files. Tests pass their own. */
export interface ConfigSources {
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
}

export const defaultSources = (): ConfigSources => ({ env: process.env, cwd: process.cwd(), home: homedir() });

/** Which service a command talks to, and as whom; where each came from, for messages. */
export interface Connection {
  url: string;
  token?: string;
  /** `KEYFLOW_URL`, or the stack file's path. */
  urlFrom: string;
  /** `KEYFLOW_TOKEN`, or the path of the file it came from. */
  tokenFrom?: string;
}

/** What `keyflow login` stores per gateway URL. */
export interface StoredCredential {
  token: string;
  tokenId: string;
  tokenName: string;
  username: string;
  createdAt: string;
}

interface CredentialsFile {
  gateways: Record<string, StoredCredential>;
}

/** The part of `.keyflow/stack.json` (`libs/testing/src/stack-contract.ts`) the CLI reads. */
interface StackFile {
  gateway?: string;
  token?: string;
}

/** Where the local stack's file is: the same search as `@keyflow/client`'s (`KEYFLOW_STACK_FILE`, else the nearest). */
export { stackFilePath };

/**
 * The credentials file: per user, not per checkout (`$XDG_CONFIG_HOME/keyflow/credentials.json`, by default
 * `~/.config/keyflow/`), so a token survives `npm run reset` (which deletes `.keyflow/`) and serves every checkout
 * that talks to the same gateway. Tokens are stored per gateway URL.
 */
export function credentialsFilePath({ env, home }: ConfigSources): string {
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'keyflow', 'credentials.json');
}

/** A gateway URL as a key: no trailing slash. */
const normalise = (url: string): string => url.replace(/\/+$/, '');

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new CliError(`cannot read ${what} ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function readCredentials(file: string): CredentialsFile {
  if (!existsSync(file)) return { gateways: {} };
  const parsed = readJson<Partial<CredentialsFile>>(file, 'the credentials file');
  return { gateways: parsed.gateways ?? {} };
}

/**
 * The gateway and the token. The environment wins (`KEYFLOW_URL`, `KEYFLOW_TOKEN`); else the URL is the stack file's
 * gateway, and the token the one `keyflow login` stored for that URL, else the stack file's (the local admin's).
 * A command that needs no token (login) still needs the URL.
 */
export function resolveConnection(sources: ConfigSources = defaultSources()): Connection {
  const { env } = sources;
  const stackFile = stackFilePath(sources);
  const stack = env.KEYFLOW_URL && env.KEYFLOW_TOKEN ? undefined : stackFile ? readStackFile(stackFile) : undefined;
  const url = env.KEYFLOW_URL || stack?.gateway;
  if (!url) {
    const looked = stackFile ? ` (no gateway in ${stackFile})` : '';
    throw new CliError(
      `no keyflow service: set KEYFLOW_URL (and KEYFLOW_TOKEN), or start the local stack with \`npm start\`${looked}`,
    );
  }
  const urlFrom = env.KEYFLOW_URL ? 'KEYFLOW_URL' : (stackFile ?? '');
  const connection: Connection = { url: normalise(url), urlFrom };
  if (env.KEYFLOW_TOKEN) return { ...connection, token: env.KEYFLOW_TOKEN, tokenFrom: 'KEYFLOW_TOKEN' };
  const credentialsFile = credentialsFilePath(sources);
  const stored = readCredentials(credentialsFile).gateways[connection.url];
  if (stored) return { ...connection, token: stored.token, tokenFrom: credentialsFile };
  // The stack's admin token belongs to the stack's gateway only, not to a KEYFLOW_URL pointing elsewhere.
  if (stack?.token && normalise(stack.gateway ?? '') === connection.url) {
    return { ...connection, token: stack.token, tokenFrom: stackFile ?? '' };
  }
  return connection;
}

/** A stack file that is not there (a stopped-and-reset stack, a KEYFLOW_STACK_FILE of another machine) is no stack. */
function readStackFile(file: string): StackFile | undefined {
  return existsSync(file) ? readJson<StackFile>(file, 'the stack file') : undefined;
}

/**
 * Stores `credential` for `url`, keeping the other gateways' tokens. The directory is made 0700 and the file 0600
 * (it holds bearer tokens); it is written to a temporary file and renamed, so a reader never sees half of it.
 */
export function storeCredential(file: string, url: string, credential: StoredCredential): void {
  const current = readCredentials(file);
  current.gateways[normalise(url)] = credential;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(current, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}
