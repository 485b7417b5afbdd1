/** Progress lines with the time since the command started: `[ 12.3s] rabbitmq: 3 nodes clustered`. */
export class Progress {
  private readonly startedAt = Date.now();

  constructor(private readonly write: (line: string) => void = (line) => console.log(line)) {}

  elapsedMs(): number {
    return Date.now() - this.startedAt;
  }

  line(component: string, message: string): void {
    this.write(`${formatElapsed(this.elapsedMs())} ${component}: ${message}`);
  }
}

export function formatElapsed(ms: number): string {
  return `[${(ms / 1000).toFixed(1).padStart(5)}s]`;
}
