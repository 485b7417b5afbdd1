import type { FastifyReply } from 'fastify';
import { HEARTBEAT, streamPreamble } from './watch-event.util';
import type { WatchSession, WatchSink } from './watch-session';

/** What an `EventSource` waits before reconnecting after the stream ends (the SSE `retry:` field). */
const RECONNECT_MS = 1_000;

/**
 * Turns the reply into a Server-Sent Events stream for `session`: takes the response from Fastify (`hijack`), writes
 * the headers Fastify's hooks set (`X-Served-By`, `X-Request-Id`) with `text/event-stream`, and attaches the session.
 * `X-Accel-Buffering: no` tells nginx not to buffer it (the gateway's watch location says so too), and a `: ping`
 * comment every `heartbeatMs` keeps an idle stream (and every proxy's read timeout) alive. The session ends when the
 * client goes away, and the response when the session ends.
 */
export function openEventStream(reply: FastifyReply, session: WatchSession, heartbeatMs: number): void {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-store',
    'x-accel-buffering': 'no',
  });
  raw.socket?.setNoDelay(true);
  let open = true;
  const heartbeat = setInterval(() => {
    if (open) raw.write(HEARTBEAT);
  }, heartbeatMs);
  const finish = (): void => {
    if (!open) return;
    open = false;
    clearInterval(heartbeat);
    session.close('the client went away');
  };
  raw.on('close', finish);
  raw.on('error', finish);
  const sink: WatchSink = {
    write: (frame) =>
      new Promise<void>((resolve) => {
        if (!open || raw.write(frame)) {
          resolve();
          return;
        }
        const done = (): void => {
          raw.off('drain', done);
          raw.off('close', done);
          resolve();
        };
        raw.on('drain', done);
        raw.on('close', done);
      }),
    end: () => {
      clearInterval(heartbeat);
      if (open && !raw.writableEnded) raw.end();
    },
  };
  raw.write(streamPreamble(RECONNECT_MS));
  if (session.isClosed) {
    sink.end();
    return;
  }
  session.attach(sink);
}
