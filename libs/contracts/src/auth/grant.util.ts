import { MAX_KEY_BYTES } from '../kv/kv.constant';

/** What a grant allows under its prefix: `write` implies `read`. */
export type GrantAccess = 'read' | 'write';

/**
 * Access to every key that starts with `prefix` (`""`: every key), as Consul ACL policies and etcd roles grant it.
 * Users carry grants (an admin sets them); tokens carry a subset of their creator's.
 */
export interface Grant {
  prefix: string;
  access: GrantAccess;
}

export const GRANT_ACCESS: readonly GrantAccess[] = ['read', 'write'];

/** Every key, for writing: what an admin has, and what a user created before grants existed was given. */
export const ALL_KEYS: readonly Grant[] = Object.freeze([Object.freeze({ prefix: '', access: 'write' as const })]);

/** Most grants one user or token carries: enough for any real policy, few enough to check on every request. */
export const MAX_GRANTS = 100;

const covers = (held: GrantAccess, need: GrantAccess): boolean => held === 'write' || need === 'read';

/** True when `grants` allow `need` on `key`. */
export function allows(grants: readonly Grant[], key: string, need: GrantAccess): boolean {
  return grants.some((g) => key.startsWith(g.prefix) && covers(g.access, need));
}

/**
 * The same access with nothing redundant, sorted by prefix in UTF-8 byte order (the order keys are listed in). A grant
 * is redundant when another grant's prefix is a prefix of its own and allows at least as much.
 */
export function normaliseGrants(grants: readonly Grant[]): Grant[] {
  const unique = new Map<string, GrantAccess>();
  for (const g of grants) {
    if (unique.get(g.prefix) !== 'write') unique.set(g.prefix, g.access);
  }
  const all = [...unique].map(([prefix, access]) => ({ prefix, access }));
  return all
    .filter((g) => !all.some((o) => o !== g && g.prefix.startsWith(o.prefix) && covers(o.access, g.access)))
    .sort((a, b) => Buffer.compare(Buffer.from(a.prefix), Buffer.from(b.prefix)));
}

/**
 * What both lists allow (a token's own grants and its owner's current ones). The keys under two prefixes meet only
 * when one prefix starts with the other, and then they are the longer prefix's keys, with the lesser access.
 */
export function intersectGrants(a: readonly Grant[], b: readonly Grant[]): Grant[] {
  const out: Grant[] = [];
  for (const x of a) {
    for (const y of b) {
      const prefix = x.prefix.startsWith(y.prefix) ? x.prefix : y.prefix.startsWith(x.prefix) ? y.prefix : undefined;
      if (prefix === undefined) continue;
      out.push({ prefix, access: x.access === 'write' && y.access === 'write' ? 'write' : 'read' });
    }
  }
  return normaliseGrants(out);
}

/** The grants in `requested` that `held` does not allow in full (empty: `requested` is a subset of `held`). */
export function grantsBeyond(requested: readonly Grant[], held: readonly Grant[]): Grant[] {
  return requested.filter((r) => !held.some((h) => r.prefix.startsWith(h.prefix) && covers(h.access, r.access)));
}

/**
 * Which keys under `prefix` a listing or a watch may show: `all` of them, `some` (only those under the returned
 * prefixes, sorted, none covering another), or `none` (the prefix lies outside every grant: refuse it).
 */
export type PrefixScope = { kind: 'all' } | { kind: 'some'; prefixes: string[] } | { kind: 'none' };

export function scopeUnder(grants: readonly Grant[], prefix: string): PrefixScope {
  if (grants.some((g) => prefix.startsWith(g.prefix))) return { kind: 'all' };
  const inside = normaliseGrants(
    grants.filter((g) => g.prefix.startsWith(prefix)).map((g) => ({ ...g, access: 'read' })),
  );
  return inside.length > 0 ? { kind: 'some', prefixes: inside.map((g) => g.prefix) } : { kind: 'none' };
}

/**
 * Checks grants as a client sent them (a request body): an array of at most MAX_GRANTS `{prefix, access}` objects, each
 * prefix at most a key's 512 bytes of UTF-8 without control characters. Returns every problem, `grants[2].access: …`.
 */
export function describeBadGrants(grants: unknown, path = 'grants'): string[] {
  if (!Array.isArray(grants)) return [`${path} must be an array of {"prefix", "access"}`];
  if (grants.length > MAX_GRANTS) return [`${path} may hold at most ${MAX_GRANTS} grants, not ${grants.length}`];
  const problems: string[] = [];
  grants.forEach((g: unknown, i) => {
    const at = `${path}[${i}]`;
    if (typeof g !== 'object' || g === null || Array.isArray(g)) {
      problems.push(`${at} must be an object {"prefix", "access"}`);
      return;
    }
    const { prefix, access, ...rest } = g as Record<string, unknown>;
    for (const extra of Object.keys(rest)) problems.push(`${at}.${extra} is not a grant property`);
    if (typeof prefix !== 'string') problems.push(`${at}.prefix must be a string ("" for every key)`);
    // eslint-disable-next-line no-control-regex
    else if (Buffer.byteLength(prefix) > MAX_KEY_BYTES || /[\u0000-\u001f\u007f]/.test(prefix)) {
      problems.push(`${at}.prefix must be at most ${MAX_KEY_BYTES} bytes of UTF-8 without control characters`);
    }
    if (access !== 'read' && access !== 'write') problems.push(`${at}.access must be "read" or "write"`);
  });
  return problems;
}
