import { z } from 'zod';

/** A configuration that failed validation; `problems` names every bad key and why. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** A comma-separated environment value whose every item must match `pattern`. */
export function envList(pattern: RegExp, message: string) {
  return z
    .string()
    .min(1)
    .transform((v) => v.split(',').map((item) => item.trim()))
    .pipe(z.array(z.string().regex(pattern, message)).min(1));
}

export const amqpUrls = () => envList(/^amqps?:\/\//, 'must be amqp:// URLs');
export const redisNodes = () => envList(/^[^:\s]+:\d+$/, 'must be host:port pairs');
export const postgresUrl = () => z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL');

/** Validates `env` against `schema`; throws `ConfigError` listing every bad key at once. */
export function parseEnv<S extends z.ZodTypeAny>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return result.data as z.infer<S>;
}

/** For an app's entry point: on a bad configuration, print every problem and exit 1 before anything starts. */
export function loadConfigOrExit<T>(app: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`${app}: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}
