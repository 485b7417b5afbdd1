import type { Grant } from '@keyflow/contracts';
import type { UserRole } from '@keyflow/db';

/** Who is calling, as the auth guard established it. */
export interface Principal {
  userId: string;
  username: string;
  role: UserRole;
  /**
   * What this request may read and write: an admin's is every key; a user's their grants; a token's what both its own
   * grants and its owner's current ones allow. Normalised (see `normaliseGrants`).
   */
  grants: readonly Grant[];
  /** How the caller proved it: a session cookie or a bearer token. */
  via: 'session' | 'token';
  sessionId?: string;
  /** When the session began (epoch ms): its absolute limit counts from here. */
  sessionStartedAt?: number;
  tokenId?: string;
  /** A token's own grants (null: all of its owner's); a token it creates may not have more. */
  tokenGrants?: readonly Grant[] | null;
  /** When the token expires; a token it creates may not outlive it. */
  tokenExpiresAt?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
