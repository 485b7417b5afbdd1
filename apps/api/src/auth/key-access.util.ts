import { allows, DomainError, ErrorCode, type GrantAccess, type PrefixScope, scopeUnder } from '@keyflow/contracts';
import type { Principal } from './principal';

/**
 * Every key route's check: the caller's grants must allow `need` on `key`. No principal means the route let an
 * anonymous read through (the topology's `auth.readsRequireAuth: false`): such reads are open to everyone.
 * @throws DomainError `FORBIDDEN` naming the key and the access it needed
 */
export function requireKeyAccess(principal: Principal | undefined, key: string, need: GrantAccess): void {
  if (!principal || allows(principal.grants, key, need)) return;
  throw new DomainError(
    ErrorCode.FORBIDDEN,
    `your grants do not allow ${need === 'write' ? 'writing' : 'reading'} key ${JSON.stringify(key)}`,
  );
}

/**
 * Which keys under `prefix` a listing or a watch may show the caller: all, only the granted ones, or (a prefix that
 * lies outside every grant) none, which is refused with 403 rather than answered with an empty page that would look
 * like "no keys there".
 */
export function requirePrefixScope(principal: Principal | undefined, prefix: string): PrefixScope {
  if (!principal) return { kind: 'all' };
  const scope = scopeUnder(principal.grants, prefix);
  if (scope.kind === 'none') {
    throw new DomainError(
      ErrorCode.FORBIDDEN,
      `your grants do not allow reading any key under the prefix ${JSON.stringify(prefix)}`,
    );
  }
  return scope;
}

/** True when the principal may do anything: an admin whose credential is not narrowed by a token's grants. */
export function isUnrestricted(principal: Principal): boolean {
  return principal.grants.some((g) => g.prefix === '' && g.access === 'write');
}
