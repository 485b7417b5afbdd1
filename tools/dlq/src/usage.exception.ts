/** A command line the tool cannot run: it prints the message and the usage, and exits 2. */
export class UsageError extends Error {}
