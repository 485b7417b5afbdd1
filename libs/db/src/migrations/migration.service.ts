import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pool } from 'pg';
import { DomainError, ErrorCode } from '@keyflow/contracts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS keyflow_schema_migrations (
  version    INT         NOT NULL PRIMARY KEY,
  name       TEXT        NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/** The numbered `.sql` files shipped with this build, in order. */
export function loadMigrations(dir: string = __dirname): Migration[] {
  return readdirSync(dir)
    .map((file) => ({ file, match: MIGRATION_FILE.exec(file) }))
    .filter((m): m is { file: string; match: RegExpExecArray } => m.match !== null)
    .map(({ file, match }) => ({
      version: Number(match[1]),
      name: match[2],
      sql: readFileSync(join(dir, file), 'utf8'),
    }))
    .sort((a, b) => a.version - b.version);
}

export function latestSchemaVersion(migrations: Migration[] = loadMigrations()): number {
  return migrations.at(-1)?.version ?? 0;
}

async function appliedVersion(pool: Pool): Promise<number> {
  const exists = await pool.query<{ present: boolean }>(
    `SELECT count(*) > 0 AS present FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'keyflow_schema_migrations'`,
  );
  if (!exists.rows[0]?.present) return 0;
  const result = await pool.query<{ version: number | null }>(
    'SELECT max(version) AS version FROM keyflow_schema_migrations',
  );
  return Number(result.rows[0]?.version ?? 0);
}

/** Catalog races between concurrent `CREATE … IF NOT EXISTS` (PostgreSQL raises 23505 or 42P07), or 40001. */
const RACE_CODES = new Set(['23505', '42P07', '42710', '40001']);

async function applyIdempotently(pool: Pool, sql: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query(sql);
      return;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (!code || !RACE_CODES.has(code) || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

/**
 * Applies pending migrations, oldest first. No advisory locks (CockroachDB has none): every migration is
 * written to be idempotent (`IF NOT EXISTS`), and its version row is inserted with `ON CONFLICT DO NOTHING`,
 * so two migrators racing both end with the same schema. Returns the versions this call applied.
 */
export async function runMigrations(
  pool: Pool,
  log: (line: string) => void = () => undefined,
  migrations: Migration[] = loadMigrations(),
): Promise<number[]> {
  await applyIdempotently(pool, MIGRATIONS_TABLE);
  const current = await appliedVersion(pool);
  const latest = latestSchemaVersion(migrations);
  if (current > latest) {
    throw new DomainError(
      ErrorCode.SCHEMA_MISMATCH,
      `the database is at schema version ${current}, newer than this build knows (${latest}); refusing to migrate`,
    );
  }
  const applied: number[] = [];
  for (const migration of migrations.filter((m) => m.version > current)) {
    log(`applying migration ${migration.version} ${migration.name}`);
    await applyIdempotently(pool, migration.sql);
    await pool.query(
      'INSERT INTO keyflow_schema_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING',
      [migration.version, migration.name],
    );
    applied.push(migration.version);
  }
  return applied;
}

/** Start-up check: the app refuses to run against a schema it does not know. */
export async function assertSchemaCurrent(pool: Pool, migrations: Migration[] = loadMigrations()): Promise<number> {
  const current = await appliedVersion(pool);
  const latest = latestSchemaVersion(migrations);
  if (current !== latest) {
    const hint =
      current < latest
        ? 'run the migrations first (apps/worker/src/migrate.ts)'
        : 'this build is older than the database';
    throw new DomainError(
      ErrorCode.SCHEMA_MISMATCH,
      `database schema version is ${current}, this build expects ${latest}: ${hint}`,
      { schemaVersion: current, expectedSchemaVersion: latest },
    );
  }
  return current;
}
