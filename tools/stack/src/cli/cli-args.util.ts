import { parseArgs } from 'node:util';

export const DEFAULT_TOPOLOGY = 'deploy/topologies/local.yaml';

export const USAGE = `Usage: keyflow-stack <command> [--topology <file>]

Runs keyflow's servers and apps as local processes on loopback (see tools/stack/README.md).

Commands:
  up                 Start the stack and print its URLs: a fresh one, a stopped one from its data, or the
                     missing processes of a running one. Never deletes data.
  down               Stop every process of the stack; the data stays for the next \`up\`.
  reset [--yes]      Stop the stack and delete its data (asks first unless --yes).
  status [--json]    Every process: pid, state, alive, healthy, restarts, last exit; exit 1 unless all healthy.
  restart <name>     Restart one process through the supervisor (api-1, worker-2, redis-7001, postgres-2, ...).

Options:
  --topology <file>  Topology file (default: ${DEFAULT_TOPOLOGY}).
  --yes              reset: do not ask.
  --json             status: print a JSON array instead of a table.
  -h, --help         Show this text.`;

const OPTIONS = {
  topology: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type StackCommand =
  | { kind: 'help' }
  | { kind: 'up' | 'down'; topology: string }
  | { kind: 'status'; topology: string; json: boolean }
  | { kind: 'reset'; topology: string; yes: boolean }
  | { kind: 'restart'; topology: string; name: string };

/** A command line the CLI cannot act on; the CLI prints the message and the usage and exits 2. */
export class StackUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StackUsageError';
  }
}

/** Turns argv (without node and the script) into one command; throws StackUsageError on anything unexpected. */
export function parseStackArgs(argv: string[]): StackCommand {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new StackUsageError(err instanceof Error ? (err.message.split('. ')[0] ?? err.message) : String(err));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  const [command, ...rest] = positionals;
  const topology = values.topology ?? DEFAULT_TOPOLOGY;
  if (topology === '') throw new StackUsageError('--topology needs a file');
  if (values.yes && command !== 'reset') throw new StackUsageError('--yes is an option of reset');
  if (values.json && command !== 'status') throw new StackUsageError('--json is an option of status');
  switch (command) {
    case undefined:
      throw new StackUsageError('missing command');
    case 'up':
    case 'down':
      if (rest.length) throw new StackUsageError(`${command}: unexpected argument "${rest[0]}"`);
      return { kind: command, topology };
    case 'status':
      if (rest.length) throw new StackUsageError(`${command}: unexpected argument "${rest[0]}"`);
      return { kind: 'status', topology, json: values.json ?? false };
    case 'reset':
      if (rest.length) throw new StackUsageError(`${command}: unexpected argument "${rest[0]}"`);
      return { kind: 'reset', topology, yes: values.yes ?? false };
    case 'restart': {
      const [name, ...extra] = rest;
      if (!name) throw new StackUsageError('restart: name the process to restart, e.g. restart api-1');
      if (extra.length) throw new StackUsageError(`restart: unexpected argument "${extra[0]}"`);
      return { kind: 'restart', topology, name };
    }
    default:
      throw new StackUsageError(`unknown command "${command}"`);
  }
}
