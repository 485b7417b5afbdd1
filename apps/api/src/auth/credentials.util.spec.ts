import { describe, expect, it } from 'vitest';
import { generateApiToken, hashApiToken, hashPassword, isApiTokenShaped, verifyPassword } from './credentials.util';

describe('credentials', () => {
  describe(hashPassword.name, () => {
    it('should produce an argon2id hash that verifies the password and nothing else', async () => {
      const hash = await hashPassword('correct horse battery staple');
      expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      expect(hash).not.toContain('correct horse');
      expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
      expect(await verifyPassword(hash, 'Correct horse battery staple')).toBe(false);
    });

    it('should salt: the same password hashes differently each time', async () => {
      expect(await hashPassword('same')).not.toBe(await hashPassword('same'));
    });
  });

  describe(verifyPassword.name, () => {
    it('should answer false, not throw, for a hash that is not one', async () => {
      expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
    });
  });

  describe(generateApiToken.name, () => {
    it('should make distinct tokens of the documented shape, hashed to 64 hex digits', () => {
      const [a, b] = [generateApiToken(), generateApiToken()];
      expect(a).not.toBe(b);
      expect(isApiTokenShaped(a)).toBe(true);
      expect(isApiTokenShaped(`${a}x`)).toBe(false);
      expect(hashApiToken(a)).toMatch(/^[0-9a-f]{64}$/);
      expect(hashApiToken(a)).toBe(hashApiToken(a));
    });
  });
});
