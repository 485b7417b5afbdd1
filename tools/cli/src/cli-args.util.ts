import { parseArgs as parseNodeArgs } from 'node:util';
import { UsageError } from './usage.exception';

export type Command =
  | { name: 'get'; key: string; strong: boolean }
  | {
      name: 'put';
      key: string;
      /** The value as JSON text; undefined: read it from stdin. */
      value?: string;
      ttl?: number;
      ifMatch?: string;
      ifNoneMatch: boolean;
      wait?: number;
    }
  | { name: 'del'; key: string; ifMatch?: string; wait?: number }
  | { name: 'ls'; prefix: string; limit?: number; keysOnly: boolean; strong: boolean }
  | { name: 'watch'; prefix: string; fromRevision?: string; maxEvents?: number }
  | { name: 'export'; out?: string; prefix?: string; quiet: boolean }
  | { name: 'import'; in: string; quiet: boolean }
  | { name: 'login'; username?: string; passwordStdin: boolean; tokenName?: string; expiresIn?: number };

export type CommandName = Command['name'];

export interface CliOptions {
  command: Command;
  /** Print JSON (one document, or one a line for streams) instead of text for people. */
  json: boolean;
}

/** `--help` for the whole CLI (`command` undefined) or for one command. */
export interface HelpRequest {
  help: CommandName | undefined;
}

type Values = Record<string, string | boolean | undefined>;

interface OptionSpec {
  type: 'string' | 'boolean';
  /** `<n>` for a string option's value in the usage. */
  arg?: string;
  description: string;
}

interface CommandSpec {
  args: string;
  summary: string;
  options: Record<string, OptionSpec>;
  /** How many positionals it takes at least and at most. */
  positionals: [min: number, max: number];
  build(positionals: string[], values: Values): Command;
  example: string;
}

const str = (values: Values, name: string): string | undefined => values[name] as string | undefined;

/** A whole number of at least `min` for `--flag`, or undefined when absent. */
function integer(values: Values, name: string, min: number): number | undefined {
  const raw = str(values, name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} must be a whole number of at least ${min}, not ${JSON.stringify(raw)}`);
  }
  return n;
}

/** `--if-match 3` or `--if-match '"3"'` or `--if-match '*'`: the version as the header wants it. */
function ifMatch(values: Values): string | undefined {
  const raw = str(values, 'if-match');
  if (raw === undefined) return undefined;
  if (raw === '*') return '*';
  const version = /^"?(\d+)"?$/.exec(raw)?.[1];
  if (version === undefined) throw new UsageError(`--if-match takes a version (3) or *, not ${JSON.stringify(raw)}`);
  return `"${version}"`;
}

const WAIT: OptionSpec = { type: 'string', arg: '<s>', description: 'wait up to s seconds (max 60) for the outcome' };
const IF_MATCH: OptionSpec = {
  type: 'string',
  arg: '<version>',
  description: 'write only if the key is at this version (* : if it exists)',
};
const STRONG: OptionSpec = { type: 'boolean', description: 'read the database primary, not the cache' };
const QUIET: OptionSpec = { type: 'boolean', description: 'no progress lines on stderr' };

export const COMMANDS: Record<CommandName, CommandSpec> = {
  get: {
    args: 'KEY',
    summary: 'read a key: its value, version, updatedAt (and expiresAt)',
    options: { strong: STRONG },
    positionals: [1, 1],
    build: ([key = ''], v) => ({ name: 'get', key, strong: v.strong === true }),
    example: 'keyflow get user:42',
  },
  put: {
    args: 'KEY [VALUE]',
    summary: 'write a key; VALUE is JSON (quote strings: \'"text"\'), read from stdin when not given',
    options: {
      ttl: { type: 'string', arg: '<s>', description: 'the key expires after s seconds' },
      'if-match': IF_MATCH,
      'if-none-match': { type: 'boolean', description: 'write only if the key does not exist' },
      wait: WAIT,
    },
    positionals: [1, 2],
    build: ([key = '', value], v) => {
      if (v['if-match'] !== undefined && v['if-none-match'] === true) {
        throw new UsageError('--if-match and --if-none-match exclude each other', 'put');
      }
      const ttl = integer(v, 'ttl', 1);
      const match = ifMatch(v);
      const wait = integer(v, 'wait', 0);
      return {
        name: 'put',
        key,
        ifNoneMatch: v['if-none-match'] === true,
        ...(value !== undefined ? { value: jsonText(value) } : {}),
        ...(ttl !== undefined ? { ttl } : {}),
        ...(match !== undefined ? { ifMatch: match } : {}),
        ...(wait !== undefined ? { wait } : {}),
      };
    },
    example: `keyflow put user:42 '{"name":"Ada"}' --wait 5   |   echo '[1,2]' | keyflow put list:1 --ttl 60`,
  },
  del: {
    args: 'KEY',
    summary: 'delete a key (its version rises too)',
    options: { 'if-match': IF_MATCH, wait: WAIT },
    positionals: [1, 1],
    build: ([key = ''], v) => {
      const match = ifMatch(v);
      const wait = integer(v, 'wait', 0);
      return {
        name: 'del',
        key,
        ...(match !== undefined ? { ifMatch: match } : {}),
        ...(wait !== undefined ? { wait } : {}),
      };
    },
    example: 'keyflow del user:42 --wait 5',
  },
  ls: {
    args: '[PREFIX]',
    summary: 'list the live keys under PREFIX in key order, every page',
    options: {
      'keys-only': { type: 'boolean', description: 'keys and versions, no values' },
      limit: { type: 'string', arg: '<n>', description: 'keys per request (1–1000, default 100)' },
      strong: STRONG,
    },
    positionals: [0, 1],
    build: ([prefix = ''], v) => {
      const limit = integer(v, 'limit', 1);
      if (limit !== undefined && limit > 1000) throw new UsageError('--limit must be at most 1000', 'ls');
      return {
        name: 'ls',
        prefix,
        keysOnly: v['keys-only'] === true,
        strong: v.strong === true,
        ...(limit !== undefined ? { limit } : {}),
      };
    },
    example: 'keyflow ls user: --keys-only',
  },
  watch: {
    args: '[PREFIX]',
    summary: 'print every change under PREFIX as it is applied; reconnects where it left off (Ctrl-C ends)',
    options: {
      'from-revision': { type: 'string', arg: '<r>', description: 'start after this revision (default: now)' },
      'max-events': { type: 'string', arg: '<n>', description: 'stop after n events' },
    },
    positionals: [0, 1],
    build: ([prefix = ''], v) => {
      const from = str(v, 'from-revision');
      const maxEvents = integer(v, 'max-events', 1);
      return {
        name: 'watch',
        prefix,
        ...(from !== undefined ? { fromRevision: from } : {}),
        ...(maxEvents !== undefined ? { maxEvents } : {}),
      };
    },
    example: 'keyflow watch user: --json',
  },
  export: {
    args: '',
    summary: 'write a consistent snapshot of every live key as NDJSON (admins)',
    options: {
      out: { type: 'string', arg: '<file>', description: 'write here (default: stdout)' },
      prefix: { type: 'string', arg: '<p>', description: 'only the keys under this prefix' },
      quiet: QUIET,
    },
    positionals: [0, 0],
    build: (_p, v) => {
      const out = str(v, 'out');
      const prefix = str(v, 'prefix');
      return {
        name: 'export',
        quiet: v.quiet === true,
        ...(out !== undefined && out !== '-' ? { out } : {}),
        ...(prefix !== undefined ? { prefix } : {}),
      };
    },
    example: 'keyflow export --out dump.jsonl',
  },
  import: {
    args: '',
    summary: 'restore an export into keys that do not exist (admins); checks the whole file first',
    options: { in: { type: 'string', arg: '<file>', description: 'the export to restore (required)' }, quiet: QUIET },
    positionals: [0, 0],
    build: (_p, v) => {
      const file = str(v, 'in');
      if (file === undefined || file === '') throw new UsageError('import needs --in <file>', 'import');
      return { name: 'import', in: file, quiet: v.quiet === true };
    },
    example: 'keyflow import --in dump.jsonl',
  },
  login: {
    args: '',
    summary: 'log in and store an API token for this gateway in the credentials file',
    options: {
      username: { type: 'string', arg: '<name>', description: 'who (default: asked)' },
      'password-stdin': { type: 'boolean', description: 'read the password from stdin (default: asked, not shown)' },
      'token-name': { type: 'string', arg: '<name>', description: 'the token’s label (default: keyflow-cli@<host>)' },
      'expires-in': {
        type: 'string',
        arg: '<seconds>',
        description: 'the token expires after this long (default: never); log in again then',
      },
    },
    positionals: [0, 0],
    build: (_p, v) => {
      const username = str(v, 'username');
      const tokenName = str(v, 'token-name');
      const expiresIn = integer(v, 'expires-in', 1);
      return {
        name: 'login',
        passwordStdin: v['password-stdin'] === true,
        ...(username !== undefined ? { username } : {}),
        ...(tokenName !== undefined ? { tokenName } : {}),
        ...(expiresIn !== undefined ? { expiresIn } : {}),
      };
    },
    example: 'keyflow login --username ada',
  },
};

const COMMAND_NAMES = Object.keys(COMMANDS) as CommandName[];

function isCommand(name: string): name is CommandName {
  return (COMMAND_NAMES as string[]).includes(name);
}

/** The argument as JSON text, exactly as given (numbers are not re-serialised), once it is known to parse. */
function jsonText(text: string): string {
  try {
    JSON.parse(text);
  } catch {
    throw new UsageError(
      `VALUE must be JSON: ${JSON.stringify(text)} is not (a string needs quotes: '"${text}"')`,
      'put',
    );
  }
  return text;
}

/**
 * The command line as options, or a request for help. Throws `UsageError` for anything it cannot run: an unknown
 * command or option, a missing or extra argument, a value of the wrong form. Arguments that start with `-` (a
 * negative number) go after `--`.
 */
export function parseCli(argv: string[]): CliOptions | HelpRequest {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const about = rest[0];
    return { help: about !== undefined && isCommand(about) ? about : undefined };
  }
  if (!isCommand(name)) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  const spec = COMMANDS[name];
  let parsed: { values: Values; positionals: string[] };
  try {
    const result = parseNodeArgs({
      args: rest,
      options: {
        ...Object.fromEntries(Object.entries(spec.options).map(([flag, o]) => [flag, { type: o.type }])),
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    parsed = { values: result.values, positionals: result.positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err), name);
  }
  if (parsed.values.help === true) return { help: name };
  const [min, max] = spec.positionals;
  const count = parsed.positionals.length;
  if (count < min) throw new UsageError(`${name} needs ${spec.args.replace(/\[.*\]/, '').trim()}`, name);
  if (count > max) throw new UsageError(`${name} takes ${max === 0 ? 'no argument' : spec.args}, not ${count}`, name);
  try {
    return { command: spec.build(parsed.positionals, parsed.values), json: parsed.values.json === true };
  } catch (err) {
    if (err instanceof UsageError && err.command === undefined) throw new UsageError(err.message, name);
    throw err;
  }
}

/** The usage of the CLI, or of one command. */
export function usage(command?: CommandName): string {
  if (command !== undefined) {
    const spec = COMMANDS[command];
    const options = Object.entries(spec.options).map(([flag, o]) => [
      `--${flag}${o.arg ? ` ${o.arg}` : ''}`,
      o.description,
    ]);
    options.push(['--json', 'print JSON instead of text'], ['--help', 'this help']);
    const width = Math.max(...options.map(([left = '']) => left.length));
    return [
      `usage: keyflow ${command}${spec.args ? ` ${spec.args}` : ''} [options]`,
      '',
      `${spec.summary}.`,
      '',
      'options:',
      ...options.map(([left = '', right = '']) => `  ${left.padEnd(width)}  ${right}`),
      '',
      `example: ${spec.example}`,
      '',
      ENVIRONMENT,
    ].join('\n');
  }
  const width = Math.max(...COMMAND_NAMES.map((n) => `${n} ${COMMANDS[n].args}`.length));
  return [
    'keyflow: the command-line client of a keyflow service.',
    '',
    'usage: keyflow <command> [arguments] [options]      (npx keyflow …, or npm run kv -- …)',
    '',
    'commands:',
    ...COMMAND_NAMES.map((n) => `  ${`${n} ${COMMANDS[n].args}`.padEnd(width)}  ${COMMANDS[n].summary}`),
    '',
    'Every command takes --json (JSON on stdout instead of text) and --help. Exit codes: 0 done, 1 the service or',
    'the input refused (the problem and its HTTP status on stderr), 2 a command line keyflow cannot run.',
    '',
    ENVIRONMENT,
  ].join('\n');
}

const ENVIRONMENT = `Where the service is: KEYFLOW_URL and KEYFLOW_TOKEN (these win); else the gateway of the local stack's
.keyflow/stack.json (KEYFLOW_STACK_FILE names another), with the token \`keyflow login\` stored for that gateway
($XDG_CONFIG_HOME/keyflow/credentials.json, default ~/.config/keyflow/), else the stack's admin token.`;
