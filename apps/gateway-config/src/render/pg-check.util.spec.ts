import { describe, expect, it } from 'vitest';
import { pgPrimaryCheck } from './pg-check.util';

describe(pgPrimaryCheck.name, () => {
  it('should encode the startup message, the query and the rows a primary answers', () => {
    const check = pgPrimaryCheck('keyflow', 'keyflow');
    const startup = Buffer.from(check.startup, 'hex');
    expect(startup.readInt32BE(0)).toBe(startup.length);
    expect(startup.readInt32BE(4)).toBe(0x0003_0000);
    expect(startup.subarray(8).toString('latin1')).toBe(
      'user\0keyflow\0database\0keyflow\0application_name\0haproxy-check\0\0',
    );
    expect(Buffer.from(check.queryAndTerminate, 'hex').toString('latin1')).toBe(
      'Q\0\0\0\x1fselect pg_is_in_recovery()\0X\0\0\0\x04',
    );
    expect(check.readyForQuery).toBe('5a0000000549');
    expect(check.primaryRow).toBe('440000000b00010000000166');
  });

  it('should count the length of names in bytes, not characters', () => {
    const startup = Buffer.from(pgPrimaryCheck('kéy', 'db').startup, 'hex');
    expect(startup.readInt32BE(0)).toBe(startup.length);
  });
});
