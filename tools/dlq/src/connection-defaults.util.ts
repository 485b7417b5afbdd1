import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './usage.exception';

/**
 * Where the broker and the database are when no flag says: the environment, else the running local stack's
 * `stack.json`. Each is looked up only when a command needs it, so a missing one fails only the commands using it.
 */
export interface ConnectionDefaults {
  amqp(): string;
  database(): string;
  shards(): number;
}

interface StackFile {
  amqp?: string[];
  db?: { write?: string };
}

export function connectionDefaults(env: NodeJS.ProcessEnv = process.env): ConnectionDefaults {
  const readStackFile = (): StackFile | undefined => {
    const file = env.KEYFLOW_STACK_FILE ?? join(process.cwd(), '.keyflow', 'stack.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackFile) : undefined;
  };
  return {
    amqp: () => {
      if (env.AMQP_URL) return env.AMQP_URL.split(',')[0] ?? '';
      const url = readStackFile()?.amqp?.[0];
      if (url) return url;
      throw new UsageError('no broker: pass --amqp <url>, set AMQP_URL, or start the local stack (npm start)');
    },
    database: () => {
      if (env.DATABASE_URL) return env.DATABASE_URL;
      const url = readStackFile()?.db?.write;
      if (url) return url;
      throw new UsageError(
        'no database: pass --database <url>, set DATABASE_URL, or start the local stack (npm start)',
      );
    },
    shards: () => Number(env.KV_SHARDS ?? 16),
  };
}
