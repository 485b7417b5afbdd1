/** A failure to report in one line and exit 1 with: no service configured, a bad input file, a cut stream. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}
