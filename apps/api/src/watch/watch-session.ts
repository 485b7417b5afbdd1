import { offsetAfter, revisionOf } from '@keyflow/contracts';
import type { ChangeDeduper } from './change-dedupe.util';
import type { ChangeStreamReader, StreamMessage, StreamSubscription } from './change-stream.reader';
import { changeEvent } from './watch-event.util';

/** Where a watch writes its events: the client's response. */
export interface WatchSink {
  /** Writes a frame; resolves once the connection can take more (backpressure), or at once if it closed. */
  write(frame: string): Promise<void>;
  /** Ends the response. */
  end(): void;
}

export interface WatchSessionOptions {
  prefix: string;
  /** When the caller's grants cover only part of the prefix: the granted prefixes under it; other keys are skipped. */
  only?: readonly string[];
  /** Resume after this revision; undefined: start with the next change published. */
  after?: number;
  /** How long a look-back for a `redo` change may take before the watch ends. */
  lookBackTimeoutMs: number;
}

/**
 * One watcher: a consumer of the change stream on its own channel, whose changes under the prefix it writes to its
 * client in stream order, one at a time. A delivery is acked only once its event is written to the socket (or
 * skipped), so a slow client holds at most `prefetch` changes in memory and then stops the broker's deliveries.
 *
 * It ends (and the client resumes with `Last-Event-ID`) when its channel closes, when the stream no longer holds the
 * change after the revision it resumed from (removed by retention since the check), or when `close` is called.
 */
export class WatchSession {
  private readonly queue: Array<{ message: StreamMessage; ack: () => void }> = [];
  private subscription?: StreamSubscription;
  private sink?: WatchSink;
  private draining = false;
  private closed = false;
  /** The offset the first delivery must have when resuming; cleared once it came. */
  private expected?: number;
  private readonly ended: Array<(reason: string) => void> = [];

  constructor(
    private readonly reader: ChangeStreamReader,
    private readonly deduper: ChangeDeduper,
    private readonly options: WatchSessionOptions,
  ) {
    this.expected = options.after === undefined ? undefined : offsetAfter(options.after);
  }

  /** Starts consuming; deliveries wait in memory (within the prefetch) until `attach`. */
  async start(): Promise<void> {
    const start = this.expected === undefined ? 'next' : { offset: this.expected };
    this.subscription = await this.reader.subscribe(
      start,
      (message, ack) => {
        this.queue.push({ message, ack });
        this.drain();
      },
      (reason) => this.close(reason),
    );
  }

  /** The client's response is open: events flow from here on. */
  attach(sink: WatchSink): void {
    this.sink = sink;
    this.drain();
  }

  onEnd(listener: (reason: string) => void): void {
    this.ended.push(listener);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Ends the watch: cancels the consumer, closes its channel, ends the response. Idempotent. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    void this.subscription?.close();
    this.sink?.end();
    for (const listener of this.ended) listener(reason);
  }

  private shows(key: string): boolean {
    const { prefix, only } = this.options;
    return key.startsWith(prefix) && (only === undefined || only.some((p) => key.startsWith(p)));
  }

  private drain(): void {
    if (this.draining || !this.sink || this.closed) return;
    this.draining = true;
    void this.run()
      .catch((err: unknown) => this.close(err instanceof Error ? err.message : String(err)))
      .finally(() => {
        this.draining = false;
        // A delivery that came while the loop was finishing.
        if (this.queue.length > 0) this.drain();
      });
  }

  private async run(): Promise<void> {
    for (let next = this.queue.shift(); next && !this.closed; next = this.queue.shift()) {
      await this.handle(next.message);
      next.ack();
    }
  }

  private async handle(message: StreamMessage): Promise<void> {
    if (this.expected !== undefined) {
      // A consumer attached at an offset may first get the rest of that offset's chunk: skip what precedes it.
      if (message.offset < this.expected) return;
      if (message.offset > this.expected) {
        throw new Error(`the stream no longer holds revision ${revisionOf(this.expected)}; resume to get a 410`);
      }
      this.expected = undefined;
    }
    const head = message.head;
    if (!head || !this.shows(head.key)) return;
    let decision = this.deduper.decide(head);
    if (decision.action === 'look-back') {
      const { fromMs } = decision;
      const generation = this.deduper.generation;
      await this.reader.readBack(
        fromMs,
        message.offset,
        (earlier) => {
          if (earlier.head && this.shows(earlier.head.key)) this.deduper.observe(earlier.head);
        },
        this.options.lookBackTimeoutMs,
      );
      // Covered now, unless the prefix has more keys in that window than the deduper keeps: then deliver.
      decision = this.deduper.coveredFrom(fromMs, generation) ? this.deduper.decide(head) : { action: 'deliver' };
    }
    this.deduper.observe(head);
    if (decision.action !== 'deliver' || this.closed || !this.sink) return;
    await this.sink.write(changeEvent(head, revisionOf(message.offset), message.content.toString('utf8')));
  }
}
