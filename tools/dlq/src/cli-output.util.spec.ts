import { describe, expect, it } from 'vitest';
import { FLAG_NAMES } from './cli-args.util';
import { failureText, USAGE, usageErrorText } from './cli-output.util';

describe('cli-output.util', () => {
  describe('USAGE', () => {
    it('should list exactly the options the parser reads, and every command', () => {
      const listed = [...USAGE.matchAll(/^ {2}(--[a-z]+)/gm)].map((m) => m[1]);
      expect([...listed].sort()).toEqual([...FLAG_NAMES].sort());
      for (const command of ['list', 'replay', 'purge']) expect(USAGE).toMatch(new RegExp(`^ {2}${command} `, 'm'));
    });
  });

  describe(usageErrorText.name, () => {
    it('should give the reason, a blank line, then the usage', () => {
      expect(usageErrorText('unknown command "x"')).toBe(`dlq: unknown command "x"\n\n${USAGE}`);
    });
  });

  describe(failureText.name, () => {
    it.each([
      [new Error('connect ECONNREFUSED 127.0.0.1:5672'), 'dlq: connect ECONNREFUSED 127.0.0.1:5672'],
      ['a thrown string', 'dlq: a thrown string'],
    ])('should print %s as one line', (err, text) => {
      expect(failureText(err)).toBe(text);
    });
  });
});
