import { describe, expect, it } from 'vitest';
import { DEFAULT_TOPOLOGY, parseStackArgs, StackUsageError } from './cli-args.util';

describe(parseStackArgs.name, () => {
  it('should default the topology to the local one', () => {
    expect(parseStackArgs(['up'])).toEqual({ kind: 'up', topology: DEFAULT_TOPOLOGY });
  });

  it('should accept --topology in both spellings', () => {
    expect(parseStackArgs(['down', '--topology', 'deploy/topologies/test.yaml'])).toEqual({
      kind: 'down',
      topology: 'deploy/topologies/test.yaml',
    });
    expect(parseStackArgs(['status', '--topology=x.yaml'])).toEqual({
      kind: 'status',
      topology: 'x.yaml',
      json: false,
    });
  });

  it('should parse status --json and reset --yes', () => {
    expect(parseStackArgs(['status', '--json'])).toEqual({ kind: 'status', topology: DEFAULT_TOPOLOGY, json: true });
    expect(parseStackArgs(['reset'])).toEqual({ kind: 'reset', topology: DEFAULT_TOPOLOGY, yes: false });
    expect(parseStackArgs(['reset', '--yes'])).toEqual({ kind: 'reset', topology: DEFAULT_TOPOLOGY, yes: true });
  });

  it('should parse restart with the process name', () => {
    expect(parseStackArgs(['restart', 'api-1', '--topology', 't.yaml'])).toEqual({
      kind: 'restart',
      topology: 't.yaml',
      name: 'api-1',
    });
  });

  it('should return help for -h whatever else is given', () => {
    expect(parseStackArgs(['up', '-h'])).toEqual({ kind: 'help' });
  });

  it.each([
    [[], 'missing command'],
    [['launch'], 'unknown command "launch"'],
    [['restart'], 'restart: name the process to restart, e.g. restart api-1'],
    [['restart', 'api-1', 'api-2'], 'restart: unexpected argument "api-2"'],
    [['up', 'now'], 'up: unexpected argument "now"'],
    [['up', '--topology', ''], '--topology needs a file'],
    [['down', '--yes'], '--yes is an option of reset'],
    [['up', '--json'], '--json is an option of status'],
  ])('should reject %j with "%s"', (argv, message) => {
    expect(() => parseStackArgs(argv)).toThrow(new StackUsageError(message));
  });

  it('should reject unknown options', () => {
    expect(() => parseStackArgs(['up', '--force'])).toThrow(StackUsageError);
  });
});
