/**
 * The metrics cannot be read: the API was given no Prometheus (`not-configured`), or Prometheus did not answer as it
 * should (`unavailable`). The controller answers 503 with the message; nothing else of it reaches the caller.
 */
export class MetricsUnavailableError extends Error {
  constructor(
    readonly reason: 'not-configured' | 'unavailable',
    message: string,
  ) {
    super(message);
    this.name = MetricsUnavailableError.name;
  }
}
