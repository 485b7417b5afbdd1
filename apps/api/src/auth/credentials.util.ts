import { createHash, randomBytes } from 'node:crypto';
import * as argon2 from 'argon2';

/**
 * argon2id with OWASP's minimum parameters (19 MiB, 2 passes, 1 lane): a login costs a few tens of ms of one
 * core, and an API process never holds more than 19 MiB per login in flight.
 */
const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

/** False for a wrong password and for a hash that is not an argon2 PHC string; never throws on bad input. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

/** Usernames, for `POST /v1/users` and the stack's admin alike. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,63}$/;
export const USERNAME_RULE =
  'must be 2–64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit';

const TOKEN_PREFIX = 'kf_';
const TOKEN_FORMAT = /^kf_[A-Za-z0-9_-]{43}$/;

/** A bearer token for machine clients: `kf_` and 256 random bits, base64url. Shown once, stored as a hash. */
export function generateApiToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function isApiTokenShaped(token: string): boolean {
  return TOKEN_FORMAT.test(token);
}

/** SHA-256, hex. A token has 256 bits of entropy, so a slow hash would add cost and no safety. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
