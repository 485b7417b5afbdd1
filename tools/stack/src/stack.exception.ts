/**
 * A start-up or shutdown step failed. `detail` is the evidence to show (a tool's output, a log tail);
 * `hint` says what the user can do next.
 */
export class StackError extends Error {
  constructor(
    message: string,
    readonly detail?: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'StackError';
  }
}
