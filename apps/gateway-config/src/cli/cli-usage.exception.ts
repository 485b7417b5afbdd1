/** A bad command line: the CLI prints the message (and the usage text when `showUsage`) and exits 2. */
export class CliUsageError extends Error {
  constructor(
    message: string,
    readonly showUsage = false,
  ) {
    super(message);
    this.name = 'CliUsageError';
  }
}
