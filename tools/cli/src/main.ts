import { parseCli, usage } from './cli-args.util';
import { CliError } from './cli.exception';
import { runCommand } from './commands';
import { defaultSources } from './config.util';
import { KeyflowProblem } from '@keyflow/client';
import { formatProblem, type Output } from './output.util';
import { processTerminal } from './terminal.util';
import { UsageError } from './usage.exception';

/** Exit codes: 0 done, 1 the service or the input refused (or it failed), 2 a command line it cannot run. */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const consoleOutput: Output = { out: (text) => console.log(text), err: (text) => console.error(text) };

/** `keyflow <command> …`: see `usage()` (cli-args.util.ts). */
async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`keyflow: ${err.message}\n\n${usage(err.command as Parameters<typeof usage>[0])}`);
    return EXIT_USAGE;
  }
  if ('help' in options) {
    console.log(usage(options.help));
    return 0;
  }
  try {
    return await runCommand(options, {
      output: consoleOutput,
      terminal: processTerminal,
      sources: defaultSources(),
      stdout: process.stdout,
      interrupted: () => new Promise<void>((resolve) => process.once('SIGINT', () => resolve())),
    });
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`keyflow: ${err.message}\n\n${usage(err.command as Parameters<typeof usage>[0])}`);
      return EXIT_USAGE;
    }
    if (err instanceof KeyflowProblem) console.error(formatProblem(err.problem, options.json));
    else if (err instanceof CliError) console.error(`keyflow: ${err.message}`);
    else throw err;
    return EXIT_FAILED;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`keyflow: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = EXIT_FAILED;
    },
  );
}
