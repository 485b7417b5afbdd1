import { type BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import { DomainError, ErrorCode, offsetAfter } from '@keyflow/contracts';
import { AMQP } from '@keyflow/runtime';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { ChangeDeduper } from './change-dedupe.util';
import { ChangeStreamReader } from './change-stream.reader';
import { WatchSession } from './watch-session';

/** How long the first-offset probe waits for the oldest change before taking the stream as empty. */
const FIRST_OFFSET_WAIT_MS = 2_000;
const LOOK_BACK_TIMEOUT_MS = 15_000;

export interface WatchRequest {
  prefix: string;
  /** Only keys under these (the caller's grants under the prefix); absent: every key under it. */
  only?: readonly string[];
  /** Resume after this revision (`Last-Event-ID` or `fromRevision`). */
  after?: number;
}

/**
 * Opens watches on the change stream (see `WatchSession`) and keeps count of them: at most `WATCH_MAX_STREAMS` at
 * once on this instance, each on its own AMQP channel. Every open watch ends when the app shuts down, so that the
 * HTTP server can close (its clients resume on another instance).
 */
@Injectable()
export class WatchService implements BeforeApplicationShutdown {
  private readonly logger = new Logger(WatchService.name);
  private readonly reader: ChangeStreamReader;
  private readonly sessions = new Set<WatchSession>();
  /** Watches being opened (checks, consumer), counted against the limit too. */
  private opening = 0;

  constructor(
    @Inject(AMQP) connection: AmqpConnectionManager,
    @Inject(API_CONFIG) private readonly config: ApiConfig,
  ) {
    this.reader = new ChangeStreamReader(connection, config.WATCH_PREFETCH);
  }

  get openWatches(): number {
    return this.sessions.size;
  }

  /**
   * Checks the request against this instance's limit and the stream's retained history, then starts consuming. The
   * session holds its first deliveries until the caller attaches the client's response.
   * @throws DomainError `WATCH_UNAVAILABLE` (too many watches, or the stream is unreachable), `REVISION_GONE`
   */
  async open(request: WatchRequest): Promise<WatchSession> {
    if (this.sessions.size + this.opening >= this.config.WATCH_MAX_STREAMS) {
      throw new DomainError(
        ErrorCode.WATCH_UNAVAILABLE,
        `this instance already serves ${this.config.WATCH_MAX_STREAMS} watches; retry (another instance may take it)`,
        { retryAfterSeconds: 5 },
      );
    }
    this.opening += 1;
    try {
      if (request.after !== undefined) await this.checkRetained(request.after);
      const session = new WatchSession(
        this.reader,
        // A watch from now sees every change published from its start on; a resumed one, nothing before its revision.
        new ChangeDeduper(request.after === undefined ? Date.now() : Infinity),
        {
          prefix: request.prefix,
          ...(request.only ? { only: request.only } : {}),
          after: request.after,
          lookBackTimeoutMs: LOOK_BACK_TIMEOUT_MS,
        },
      );
      await session.start();
      this.sessions.add(session);
      const timer = setTimeout(
        () => session.close('the watch reached its longest duration'),
        this.config.WATCH_MAX_DURATION_S * 1000,
      );
      session.onEnd((reason) => {
        clearTimeout(timer);
        this.sessions.delete(session);
        this.logger.debug(`watch of "${request.prefix}" ended: ${reason}`);
      });
      return session;
    } finally {
      this.opening -= 1;
    }
  }

  /**
   * 410 unless the stream still holds every change after `after`: its oldest retained change must be at or before
   * the one after `after`. A stream that holds no change at all holds no revision but 0.
   */
  private async checkRetained(after: number): Promise<void> {
    const first = await this.reader.firstOffset(FIRST_OFFSET_WAIT_MS);
    const gone = first === undefined ? after > 0 : offsetAfter(after) < first;
    if (gone) {
      throw new DomainError(
        ErrorCode.REVISION_GONE,
        first === undefined
          ? `revision ${after} is not in the change stream, which holds no change: list the keys again, then watch`
          : `the change stream no longer holds the changes after revision ${after} (the oldest it holds is ` +
              `${first + 1}): list the keys again, then watch from now`,
      );
    }
  }

  beforeApplicationShutdown(): void {
    for (const session of [...this.sessions]) session.close('the API instance is shutting down');
  }
}
