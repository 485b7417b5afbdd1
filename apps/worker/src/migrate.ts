import { createPool, latestSchemaVersion, runMigrations } from '@keyflow/db';

/**
 * Applies pending schema migrations: `DATABASE_URL=postgres://… node -r @swc-node/register apps/worker/src/migrate.ts`.
 * Exits 0 when the schema is current.
 */
async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('migrate: DATABASE_URL is not set (postgres://user@host:port/database)');
    process.exit(2);
  }
  const pool = createPool(url, { applicationName: 'keyflow-migrate', max: 1 });
  try {
    const applied = await runMigrations(pool, (line) => console.log(`migrate: ${line}`));
    console.log(
      applied.length
        ? `migrate: applied ${applied.length} migration(s); schema is at version ${latestSchemaVersion()}`
        : `migrate: schema is current (version ${latestSchemaVersion()})`,
    );
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(`migrate: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
