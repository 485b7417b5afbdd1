import { isIP } from 'node:net';

/** True for `localhost`, any 127.0.0.0/8 address, `::1` and IPv4-mapped loopback (`::ffff:127.x.x.x`). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) {
    if (host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
    return mapped?.[1] !== undefined && mapped[1].startsWith('127.');
  }
  return false;
}

export class RemoteTargetError extends Error {
  constructor(readonly target: string) {
    super(`refusing to load ${target}: not a loopback address (pass --allow-remote to load another machine)`);
    this.name = RemoteTargetError.name;
  }
}

/** Load tests hit their target hard: only loopback targets unless the caller explicitly allows remote ones. */
export function assertLoadableTarget(target: string, allowRemote: boolean): void {
  if (!allowRemote && !isLoopbackHost(new URL(target).hostname)) throw new RemoteTargetError(target);
}
