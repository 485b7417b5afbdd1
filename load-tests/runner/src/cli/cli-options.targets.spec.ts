import { describe, expect, it } from 'vitest';
import { SCENARIO_NAMES } from '../../../scenarios/scenarios';
import { CliUsageError, parseCliOptions } from './cli-options.util';

describe(`${parseCliOptions.name} (issue 14's targets)`, () => {
  const root = '/repo';

  it('should measure the targets with every scenario by default, and only them with --targets alone', () => {
    expect(parseCliOptions([], {}, root)).toMatchObject({ scenarios: [...SCENARIO_NAMES], targets: 'with' });
    expect(parseCliOptions(['--targets'], {}, root)).toMatchObject({ scenarios: [], targets: 'only' });
  });

  it('should leave the targets out when scenarios are named, unless --targets asks for them too', () => {
    expect(parseCliOptions(['--scenario', 'reference'], {}, root).targets).toBe('off');
    expect(parseCliOptions(['--scenario', 'reference', '--targets'], {}, root)).toMatchObject({
      scenarios: ['reference'],
      targets: 'with',
    });
    expect(parseCliOptions(['--skip-targets'], {}, root)).toMatchObject({
      scenarios: [...SCENARIO_NAMES],
      targets: 'off',
    });
  });

  it('should run the targets without wrk with --skip-wrk, and refuse --targets with --skip-targets', () => {
    expect(parseCliOptions(['--targets', '--skip-wrk'], {}, root)).toMatchObject({ targets: 'only', skipWrk: true });
    expect(() => parseCliOptions(['--targets', '--skip-targets'], {}, root)).toThrow(CliUsageError);
  });
});
