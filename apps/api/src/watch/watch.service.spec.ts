import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AmqpConnectionManager } from 'amqp-connection-manager';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import type { ApiConfig } from '../config/api.config';
import { ChangeStreamReader } from './change-stream.reader';
import { WatchService } from './watch.service';

const config = { WATCH_MAX_STREAMS: 2, WATCH_PREFETCH: 10, WATCH_MAX_DURATION_S: 3600 } as ApiConfig;

function service(firstOffset: number | undefined) {
  vi.spyOn(ChangeStreamReader.prototype, 'firstOffset').mockResolvedValue(firstOffset);
  const subscribe = vi
    .spyOn(ChangeStreamReader.prototype, 'subscribe')
    .mockResolvedValue({ close: () => Promise.resolve() });
  return { watches: new WatchService({} as AmqpConnectionManager, config), subscribe };
}

async function refusal(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string; details: unknown }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DomainError)) throw new Error(`expected a DomainError, got ${String(err)}`);
  return { code: err.code, message: err.message, details: err.details };
}

describe(WatchService.name, () => {
  afterEach(() => vi.restoreAllMocks());

  describe('open', () => {
    it('should resume at the change after the revision while the stream still holds it', async () => {
      const { watches, subscribe } = service(100);
      await watches.open({ prefix: 'a', after: 100 });
      await watches.open({ prefix: 'a', after: 5000 });
      expect(subscribe.mock.calls.map(([start]) => start)).toEqual([{ offset: 100 }, { offset: 5000 }]);
    });

    it('should refuse with revision-gone a revision whose next change retention removed', async () => {
      const { watches } = service(100);
      expect(await refusal(watches.open({ prefix: '', after: 99 }))).toEqual({
        code: ErrorCode.REVISION_GONE,
        message:
          'the change stream no longer holds the changes after revision 99 (the oldest it holds is 101): list the ' +
          'keys again, then watch from now',
        details: {},
      });
    });

    it('should take revision 0 on an empty stream, and refuse any other', async () => {
      const { watches, subscribe } = service(undefined);
      await watches.open({ prefix: '', after: 0 });
      expect(subscribe).toHaveBeenCalledTimes(1);
      expect((await refusal(watches.open({ prefix: '', after: 3 }))).code).toBe(ErrorCode.REVISION_GONE);
    });

    it('should start a watch without a revision at the next change, without asking for the oldest', async () => {
      const { watches, subscribe } = service(100);
      await watches.open({ prefix: '' });
      expect(subscribe.mock.calls[0]?.[0]).toBe('next');
      expect(ChangeStreamReader.prototype.firstOffset).not.toHaveBeenCalled();
    });

    it('should refuse a watch beyond WATCH_MAX_STREAMS with Retry-After, and take one again once one ended', async () => {
      const { watches } = service(0);
      const first = await watches.open({ prefix: '' });
      await watches.open({ prefix: '' });
      expect(await refusal(watches.open({ prefix: '' }))).toEqual({
        code: ErrorCode.WATCH_UNAVAILABLE,
        message: 'this instance already serves 2 watches; retry (another instance may take it)',
        details: { retryAfterSeconds: 5 },
      });

      first.close('the client went away');
      expect(watches.openWatches).toBe(1);
      await watches.open({ prefix: '' });
      watches.beforeApplicationShutdown();
      expect(watches.openWatches).toBe(0);
    });
  });
});
