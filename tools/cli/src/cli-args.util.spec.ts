import { describe, expect, it } from 'vitest';
import { COMMANDS, parseCli, usage } from './cli-args.util';
import { UsageError } from './usage.exception';

describe(parseCli.name, () => {
  it.each([[[]], [['--help']], [['-h']], [['help']]])('should ask for the general usage given %j', (argv) => {
    expect(parseCli(argv)).toEqual({ help: undefined });
  });

  it.each([[['get', '--help']], [['get', '-h']], [['help', 'get']], [['get', 'k', '--json', '--help']]])(
    'should ask for the usage of get given %j',
    (argv) => {
      expect(parseCli(argv)).toEqual({ help: 'get' });
    },
  );

  it('should read every command with its options', () => {
    expect(parseCli(['get', 'user:42', '--strong', '--json'])).toEqual({
      command: { name: 'get', key: 'user:42', strong: true },
      json: true,
    });
    expect(
      parseCli(['put', 'k', '{"a": 12345678901234567890}', '--ttl', '60', '--if-match', '3', '--wait', '5']),
    ).toEqual({
      command: {
        name: 'put',
        key: 'k',
        value: '{"a": 12345678901234567890}',
        ttl: 60,
        ifMatch: '"3"',
        ifNoneMatch: false,
        wait: 5,
      },
      json: false,
    });
    expect(parseCli(['put', 'k', '--if-none-match'])).toEqual({
      command: { name: 'put', key: 'k', ifNoneMatch: true },
      json: false,
    });
    expect(parseCli(['put', 'k', '--', '-5'])).toMatchObject({ command: { value: '-5' } });
    expect(parseCli(['del', 'k', '--if-match', '"7"'])).toMatchObject({ command: { name: 'del', ifMatch: '"7"' } });
    expect(parseCli(['del', 'k', '--if-match', '*'])).toMatchObject({ command: { ifMatch: '*' } });
    expect(parseCli(['ls'])).toEqual({
      command: { name: 'ls', prefix: '', keysOnly: false, strong: false },
      json: false,
    });
    expect(parseCli(['ls', 'user:', '--keys-only', '--limit', '1000'])).toMatchObject({
      command: { prefix: 'user:', keysOnly: true, limit: 1000 },
    });
    expect(parseCli(['watch', 'user:', '--from-revision', '12', '--max-events', '3'])).toMatchObject({
      command: { name: 'watch', prefix: 'user:', fromRevision: '12', maxEvents: 3 },
    });
    expect(parseCli(['export', '--out', 'dump.jsonl', '--prefix', 'a/'])).toEqual({
      command: { name: 'export', out: 'dump.jsonl', prefix: 'a/', quiet: false },
      json: false,
    });
    expect(parseCli(['export', '--out', '-'])).toEqual({ command: { name: 'export', quiet: false }, json: false });
    expect(parseCli(['import', '--in', 'dump.jsonl', '--quiet'])).toMatchObject({
      command: { name: 'import', in: 'dump.jsonl', quiet: true },
    });
    expect(parseCli(['login', '--expires-in', '3600'])).toMatchObject({
      command: { name: 'login', expiresIn: 3600 },
    });
    expect(() => parseCli(['login', '--expires-in', '0'])).toThrow('--expires-in must be a whole number of at least 1');
    expect(parseCli(['login', '--username', 'ada', '--password-stdin'])).toMatchObject({
      command: { name: 'login', username: 'ada', passwordStdin: true },
    });
  });

  it.each([
    [['frob'], 'unknown command "frob"', undefined],
    [['get'], 'get needs KEY', 'get'],
    [['get', 'a', 'b'], 'get takes KEY, not 2', 'get'],
    [['export', 'x'], 'export takes no argument, not 1', 'export'],
    [['get', 'k', '--bogus'], "Unknown option '--bogus'", 'get'],
    [['get', 'k', '--ttl', '5'], "Unknown option '--ttl'", 'get'],
    [['put', 'k', 'hello'], `VALUE must be JSON: "hello" is not (a string needs quotes: '"hello"')`, 'put'],
    [['put', 'k', '1', '--ttl', '0'], '--ttl must be a whole number of at least 1, not "0"', 'put'],
    [['put', 'k', '1', '--ttl', '1.5'], '--ttl must be a whole number of at least 1, not "1.5"', 'put'],
    [['put', 'k', '1', '--wait', '-1'], "Option '--wait' argument is ambiguous", 'put'],
    [['put', 'k', '1', '--if-match', 'W/"3"'], '--if-match takes a version (3) or *, not "W/\\"3\\""', 'put'],
    [
      ['put', 'k', '1', '--if-match', '3', '--if-none-match'],
      '--if-match and --if-none-match exclude each other',
      'put',
    ],
    [['ls', 'p', '--limit', '1001'], '--limit must be at most 1000', 'ls'],
    [['import'], 'import needs --in <file>', 'import'],
    [['watch', 'p', '--max-events', '0'], '--max-events must be a whole number of at least 1, not "0"', 'watch'],
  ])('should refuse %j: %s', (argv, reason, command) => {
    let thrown: unknown;
    try {
      parseCli(argv);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as UsageError).message).toContain(reason);
    expect((thrown as UsageError).command).toBe(command);
  });
});

describe(usage.name, () => {
  it('should list every command, and every option of each command', () => {
    const all = usage();
    for (const [name, spec] of Object.entries(COMMANDS)) {
      expect(all).toContain(`  ${name} ${spec.args}`.trimEnd());
      const one = usage(name as keyof typeof COMMANDS);
      expect(one).toMatch(new RegExp(`^usage: keyflow ${name}`));
      for (const flag of [...Object.keys(spec.options), 'json', 'help']) expect(one).toContain(`--${flag}`);
      expect(one).toContain('KEYFLOW_URL');
    }
  });
});
