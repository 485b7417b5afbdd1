/** A command line the CLI cannot run: it prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage to print, if the command was known. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
