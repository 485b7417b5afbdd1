import { parseArgs } from 'node:util';
import { CliUsageError } from './cli-usage.exception';

export const USAGE = `Usage: gateway-config <command> [options]

Renders keyflow's gateway (nginx), load-balancer (HAProxy), DNS (BIND9), monitoring (Prometheus)
and keepalived configs from one topology file.

Commands:
  render --topology <file> --out <dir> [--run-dir <dir>] [--conf-dir <dir>] [--per-gateway] [--console-root <dir>]
         [--no-edge]
      Write into --out, creating it: nginx.conf and haproxy.cfg;
      named.conf and <zone>.zone with dns; prometheus.yml with monitoring.prometheus; one
      keepalived-<peer>.conf per peer with haproxy.redundancy; and, for gateway.tls.mode
      self-signed, gateway.crt and gateway.key (made with openssl unless both exist).
      --run-dir (default: the out dir) is where nginx, HAProxy and named keep pid files, logs, the
      stats socket and temp files at run time; it is created too and rendered into the configs as
      an absolute path.
      --conf-dir (default: the out dir) is where the files will be read from at run time, when that
      differs from where they are written (a container's mount point); not created.
      --per-gateway also writes nginx-<gateway>.conf for every gateway instance: each gateway as
      its own nginx process with its own pid file and logs (the local stack runs them so).
      --console-root serves the web console's files from this directory instead of the topology's
      gateway.consoleRoot (the local stack copies them where nginx's workers can read them).
      --no-edge renders as if the topology had no edge section: no haproxy-edge.cfg, no edge
      keepalived configs, and the gateways listen on their own addresses only (the local stack
      passes it when it cannot create the edge pair's network namespaces).
      With edge: haproxy-edge.cfg, keepalived-edge-<peer>.conf per edge peer and edge.pem (the
      gateway certificate and its key in one file, for HAProxy).
  validate --topology <file>
      Check a topology file: print "ok", or every bad field and exit 1.

Options:
  -h, --help  Show this text.

Exit codes: 0 done, 1 invalid topology or failed render, 2 bad command line.`;

export type CliCommand =
  | { kind: 'help' }
  | {
      kind: 'render';
      topology: string;
      outDir: string;
      runDir: string | undefined;
      confDir: string | undefined;
      perGateway: boolean;
      consoleRoot?: string;
      noEdge?: boolean;
    }
  | { kind: 'validate'; topology: string };

const OPTIONS = {
  topology: { type: 'string' },
  out: { type: 'string' },
  'run-dir': { type: 'string' },
  'conf-dir': { type: 'string' },
  'per-gateway': { type: 'boolean' },
  'console-root': { type: 'string' },
  'no-edge': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ALLOWED: Record<'render' | 'validate', ReadonlyArray<keyof typeof OPTIONS>> = {
  render: ['topology', 'out', 'run-dir', 'conf-dir', 'per-gateway', 'console-root', 'no-edge', 'help'],
  validate: ['topology', 'help'],
};

function parse(argv: string[]): ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>> {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // node:util reports unknown options and missing values with long hints about "--"; keep the first sentence.
    const message = err instanceof Error ? err.message.split('. ')[0] : String(err);
    throw new CliUsageError(message);
  }
}

function required(value: string | undefined, flag: string, command: string): string {
  if (value === undefined || value === '') throw new CliUsageError(`${command}: missing required option --${flag}`);
  return value;
}

/** Turns argv (without node and the script) into one command; throws CliUsageError on anything unexpected. */
export function parseCliArgs(argv: string[]): CliCommand {
  const { values, positionals } = parse(argv);
  const [command, ...extra] = positionals;
  if (values.help) return { kind: 'help' };
  if (command === undefined) throw new CliUsageError('missing command', true);
  if (command !== 'render' && command !== 'validate') throw new CliUsageError(`unknown command "${command}"`);
  if (extra.length) throw new CliUsageError(`${command}: unexpected argument "${extra[0]}"`);
  const given = Object.keys(values) as Array<keyof typeof OPTIONS>;
  const stray = given.find((flag) => !ALLOWED[command].includes(flag));
  if (stray) throw new CliUsageError(`${command}: option --${stray} does not apply`);

  const topology = required(values.topology, 'topology', command);
  if (command === 'validate') return { kind: 'validate', topology };
  const runDir = values['run-dir'];
  if (runDir === '') throw new CliUsageError('render: --run-dir needs a directory');
  const confDir = values['conf-dir'];
  if (confDir === '') throw new CliUsageError('render: --conf-dir needs a directory');
  const consoleRoot = values['console-root'];
  if (consoleRoot === '') throw new CliUsageError('render: --console-root needs a directory');
  return {
    kind: 'render',
    topology,
    outDir: required(values.out, 'out', command),
    runDir,
    confDir,
    perGateway: values['per-gateway'] === true,
    ...(consoleRoot !== undefined ? { consoleRoot } : {}),
    ...(values['no-edge'] === true ? { noEdge: true } : {}),
  };
}
