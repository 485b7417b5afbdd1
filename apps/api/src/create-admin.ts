import { z } from 'zod';
import { ALL_KEYS, DomainError, ErrorCode, loadConfigOrExit, parseEnv, postgresUrl } from '@keyflow/contracts';
import { createPool, UserRepository } from '@keyflow/db';
import { generateApiToken, hashApiToken, hashPassword, USERNAME_PATTERN, USERNAME_RULE } from './auth/credentials.util';

/**
 * Creates the admin user (unless it exists) and a new admin API token, and prints `{"username", "tokenId",
 * "token"}` as one JSON line on stdout; `npm start` writes the token to `.keyflow/stack.json`.
 *
 *   DATABASE_URL=postgres://… [ADMIN_USERNAME=admin] [ADMIN_PASSWORD=…] node -r @swc-node/register apps/api/src/create-admin.ts
 *
 * Without ADMIN_PASSWORD the admin gets a random password nobody learns: it works with the token only (and can
 * create itself a user with a password through POST /v1/users). The password is never printed or logged.
 */
const envSchema = z.object({
  DATABASE_URL: postgresUrl(),
  ADMIN_USERNAME: z.string().regex(USERNAME_PATTERN, USERNAME_RULE).default('admin'),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  TOKEN_NAME: z.string().min(1).max(100).default('stack'),
});

async function main(): Promise<void> {
  const env = loadConfigOrExit('create-admin', () => parseEnv(envSchema, process.env));
  const pool = createPool(env.DATABASE_URL, { applicationName: 'keyflow-create-admin', max: 1 });
  try {
    const users = new UserRepository(pool);
    let admin = await users.findByUsername(env.ADMIN_USERNAME);
    if (admin && admin.role !== 'admin') {
      throw new Error(`user "${env.ADMIN_USERNAME}" exists and is not an admin; choose another ADMIN_USERNAME`);
    }
    if (!admin) {
      const password = env.ADMIN_PASSWORD ?? generateApiToken();
      try {
        const created = await users.create({
          username: env.ADMIN_USERNAME,
          passwordHash: await hashPassword(password),
          role: 'admin',
          grants: [...ALL_KEYS],
        });
        admin = { ...created, passwordHash: '' };
      } catch (err) {
        // Another instance of this script won the race: use the user it made.
        if (!(err instanceof DomainError && err.code === ErrorCode.USER_EXISTS)) throw err;
        admin = await users.findByUsername(env.ADMIN_USERNAME);
        if (!admin) throw err;
      }
    }
    const token = generateApiToken();
    const { id } = await users.createToken({ userId: admin.id, name: env.TOKEN_NAME, tokenHash: hashApiToken(token) });
    process.stdout.write(`${JSON.stringify({ username: admin.username, tokenId: id, token })}\n`);
  } finally {
    await pool.end();
  }
}

main().catch((err: unknown) => {
  console.error(`create-admin: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
