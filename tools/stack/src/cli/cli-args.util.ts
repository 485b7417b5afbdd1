import { parseArgs } from 'node:util';

export const DEFAULT_TOPOLOGY = 'deploy/topologies/local.yaml';

export const USAGE = `Usage: keyflow-stack <command> [--topology <file>]

Runs keyflow's servers and apps as local processes on loopback (see tools/stack/README.md).

Commands:
  up                 Start the stack (or report the one already running) and print its URLs.
  down               Stop every process of the stack and discard its data.
  status             Show every process, whether it is alive and healthy; exit 1 if any is not.
  restart <name>     Kill and relaunch one process (api-1, worker-2, redis-7001, rabbitmq-rmq2, ...).

Options:
  --topology <file>  Topology file (default: ${DEFAULT_TOPOLOGY}).
  -h, --help         Show this text.`;

const OPTIONS = {
  topology: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type StackCommand =
  | { kind: 'help' }
  | { kind: 'up' | 'down' | 'status'; topology: string }
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
  switch (command) {
    case undefined:
      throw new StackUsageError('missing command');
    case 'up':
    case 'down':
    case 'status':
      if (rest.length) throw new StackUsageError(`${command}: unexpected argument "${rest[0]}"`);
      return { kind: command, topology };
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
