import type { UserRole } from '@keyflow/db';

/** Who is calling, as the auth guard established it. */
export interface Principal {
  userId: string;
  username: string;
  role: UserRole;
  /** How the caller proved it: a session cookie or a bearer token. */
  via: 'session' | 'token';
  sessionId?: string;
  /** When the session began (epoch ms): its absolute limit counts from here. */
  sessionStartedAt?: number;
  tokenId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
