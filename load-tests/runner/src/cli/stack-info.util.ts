import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The part of `.keyflow/stack.json` (written by `npm start`) the runner uses. Only these fields are checked, so the
 * stack can add fields without breaking the runner.
 */
export const stackInfoSchema = z
  .object({
    gateway: z.string().url(),
    apis: z.array(z.string()).default([]),
    stackDir: z.string().optional(),
    /** The topology file the stack was started from (the RabbitMQ nodes' names and ports, for profiles). */
    topology: z.string().optional(),
    /** Through HAProxy: the primary (`write`); for pg_stat_statements in profiles. */
    db: z.object({ write: z.string() }).passthrough().optional(),
    processes: z
      .array(
        z
          .object({
            name: z.string(),
            // 0 while the supervisor does not run it (stopped, or between restarts).
            pid: z.number().int().nonnegative(),
            kind: z.string().optional(),
            dataDir: z.string().optional(),
          })
          .passthrough(),
      )
      .default([]),
    token: z.string().min(1).optional(),
    /** `host:port` of every Redis node. */
    redis: z.array(z.string()).default([]),
    /** RabbitMQ's management API (queue depths) and its credentials. */
    management: z.string().url().optional(),
    managementUser: z.string().optional(),
    managementPassword: z.string().optional(),
    amqpVhost: z.string().optional(),
    /** Logins beyond the URLs (Redis ACL users, the PostgreSQL superuser), from the stack's secrets file. */
    credentials: z
      .object({
        redis: z.object({ admin: z.object({ username: z.string(), password: z.string() }) }).passthrough(),
        dbSuperuser: z.object({ username: z.string(), password: z.string() }),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export type StackInfo = z.infer<typeof stackInfoSchema>;

export class StackFileError extends Error {
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = StackFileError.name;
  }
}

/** Reads the stack description; undefined when there is none (the stack is not running). */
export function readStackInfo(file: string): StackInfo | undefined {
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error: unknown) {
    throw new StackFileError(file, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const parsed = stackInfoSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StackFileError(file, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/** The API processes (`api-1`, `api-2`, …) whose memory the runner samples. */
export function apiProcesses(stack: StackInfo | undefined): Array<{ name: string; pid: number }> {
  return (stack?.processes ?? [])
    .filter((p) => p.name.startsWith('api-') && p.pid > 0)
    .map(({ name, pid }) => ({ name, pid }));
}

/** The API and worker processes (`api-1`, `worker-2`, …), whose RSS a memory soak follows. */
export function appProcesses(stack: StackInfo | undefined): Array<{ name: string; pid: number }> {
  return (stack?.processes ?? [])
    .filter((p) => /^(api|worker)-/.test(p.name) && p.pid > 0)
    .map(({ name, pid }) => ({ name, pid }));
}

/** Every process of the stack with its tier (its `kind`, else its name without the instance suffix), for CPU. */
export function tierProcesses(stack: StackInfo | undefined): Array<{ name: string; pid: number; tier: string }> {
  return (stack?.processes ?? []).flatMap(({ name, pid, kind, dataDir }) => {
    const tier = kind ?? name.replace(/-[^-]*\d[^-]*$/, '');
    // Patroni runs PostgreSQL in a session of its own (not its descendant): count the postmaster too.
    const postmaster = dataDir ? postmasterPid(dataDir) : undefined;
    return [
      ...(pid > 0 ? [{ name, pid, tier }] : []),
      ...(postmaster ? [{ name: `${name} (postmaster)`, pid: postmaster, tier }] : []),
    ];
  });
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
