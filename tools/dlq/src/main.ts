import { parseArgs, type CliOptions } from './cli-args.util';
import { consoleOutput, EXIT_FAILED, EXIT_USAGE, failureText, USAGE, usageErrorText } from './cli-output.util';
import { runCommand } from './command-runner.service';
import { UsageError } from './usage.exception';

/** `npm run dlq -- <command> [options]`: see `USAGE` (cli-output.util.ts). */
async function main(): Promise<void> {
  let options: CliOptions | 'help';
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(usageErrorText(err.message));
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  process.exitCode = await runCommand(options, consoleOutput);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(failureText(err));
    process.exit(EXIT_FAILED);
  });
}
