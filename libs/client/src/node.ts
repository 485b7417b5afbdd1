import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KeyflowClient, type KeyflowClientOptions } from './client';

/**
 * Node only (`@keyflow/client/node`): finding the service from the environment, as the CLI and the tools do. The
 * package's main entry stays free of `node:` imports, so that it bundles for browsers.
 */

export interface EnvironmentSources {
  env: Record<string, string | undefined>;
  cwd: string;
}

/** `KEYFLOW_STACK_FILE`, else the nearest `.keyflow/stack.json` at or above `cwd` (what `npm start` writes), if any. */
export function stackFilePath({ env, cwd }: EnvironmentSources): string | undefined {
  if (env.KEYFLOW_STACK_FILE) return env.KEYFLOW_STACK_FILE;
  for (let dir = cwd; ; dir = dirname(dir)) {
    const file = join(dir, '.keyflow', 'stack.json');
    if (existsSync(file)) return file;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The service and credentials: `KEYFLOW_URL` and `KEYFLOW_TOKEN` win; else the local stack's gateway and its admin
 * token (the admin token only with the stack's own gateway, never sent to a `KEYFLOW_URL` elsewhere). Throws when
 * neither says where keyflow is.
 */
export function connectionFromEnvironment(
  sources: EnvironmentSources = { env: process.env, cwd: process.cwd() },
): Pick<KeyflowClientOptions, 'baseUrl' | 'token'> {
  const { env } = sources;
  const file = stackFilePath(sources);
  const stack =
    file !== undefined && existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as { gateway?: string; token?: string })
      : undefined;
  const baseUrl = (env.KEYFLOW_URL || stack?.gateway)?.replace(/\/+$/, '');
  if (!baseUrl) {
    throw new Error(
      'no keyflow service: set KEYFLOW_URL (and KEYFLOW_TOKEN), or start the local stack with `npm start`',
    );
  }
  const stackToken = stack?.gateway?.replace(/\/+$/, '') === baseUrl ? stack.token : undefined;
  const token = env.KEYFLOW_TOKEN || stackToken;
  return { baseUrl, ...(token ? { token } : {}) };
}

/** A client of the service the environment names (see `connectionFromEnvironment`), with `options` on top. */
export function clientFromEnvironment(
  options: Partial<KeyflowClientOptions> = {},
  sources?: EnvironmentSources,
): KeyflowClient {
  return new KeyflowClient({ ...connectionFromEnvironment(sources), ...options });
}
