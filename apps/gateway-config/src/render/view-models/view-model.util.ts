/**
 * What every view-model builder shares. A view model is everything one template prints, computed in
 * `<config>.view-model.ts` so the templates only loop and branch on flags.
 * Every field is always present (null rather than missing) because templates compile in strict mode.
 */

export interface RenderPaths {
  /** Absolute directory nginx and HAProxy write pids, logs, sockets and temp files to at run time. */
  runDir: string;
  /** Absolute directory the rendered files are written to. */
  outDir: string;
  /** What relative paths of the topology (`gateway.consoleRoot`) are relative to; the working directory by default. */
  baseDir?: string;
}

export interface NamedAddress {
  name: string;
  address: string;
}

/** `host:port`, with IPv6 literals bracketed as both nginx and HAProxy expect. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
