import { describe, expect, it } from 'vitest';
import { SCENARIO_NAMES } from '../../../scenarios/scenarios';
import { CliUsageError, parseCliOptions, scenarioDefinitions } from './cli-options.util';

describe(parseCliOptions.name, () => {
  const root = '/repo';

  it('should default to every scenario at scale 1 against the stack', () => {
    expect(parseCliOptions([], {}, root)).toEqual({
      scenarios: [...SCENARIO_NAMES],
      targets: 'with',
      skipWrk: false,
      target: undefined,
      token: undefined,
      scale: 1,
      rate: undefined,
      durationMs: undefined,
      outDir: '/repo/load-tests/reports',
      stackFile: '/repo/.keyflow/stack.json',
      baselineOnly: false,
      skipBaseline: false,
      baselineDurationMs: 20_000,
      baselineConnections: 64,
      progressIntervalMs: 5000,
      allowRemote: false,
      strict: false,
      list: false,
      help: false,
    });
  });

  it('should read scenarios, scale, token and paths from flags before the environment', () => {
    const options = parseCliOptions(
      [
        '--scenario',
        'reference,read-heavy',
        '--scenario',
        'reference',
        '--scale',
        '0.1',
        '--token',
        'a',
        '--out',
        '/tmp/r',
      ],
      { SCALE: '5', KEYFLOW_TOKEN: 'b' },
      root,
    );
    expect(options).toMatchObject({ scenarios: ['reference', 'read-heavy'], scale: 0.1, token: 'a', outDir: '/tmp/r' });
    expect(options.baselineDurationMs).toBe(2000);
  });

  it('should accept --duration-scale for --scale', () => {
    expect(parseCliOptions(['--duration-scale', '0.25'], {}, root).scale).toBe(0.25);
  });

  it('should fall back to SCALE and KEYFLOW_TOKEN', () => {
    expect(parseCliOptions([], { SCALE: '0.5', KEYFLOW_TOKEN: 'env-token' }, root)).toMatchObject({
      scale: 0.5,
      token: 'env-token',
      baselineDurationMs: 10_000,
    });
  });

  it('should reject what it cannot run', () => {
    for (const argv of [
      ['--scenario', 'nope'],
      ['--scale', '0'],
      ['--scale', 'fast'],
      ['--target', 'not a url'],
      ['--baseline-only', '--skip-baseline'],
      ['--rate', '0'],
      ['--unknown'],
    ]) {
      expect(() => parseCliOptions(argv, {}, root)).toThrow(CliUsageError);
    }
  });

  it('should replace the rate of open-model scenarios with --rate, and refuse it for closed-model ones', () => {
    const options = parseCliOptions(['--scenario', 'sustained-writes', '--rate', '150', '--scale', '0.5'], {}, root);
    const definitions = scenarioDefinitions(options);
    expect(definitions['sustained-writes'].executor).toMatchObject({ executor: 'constant-arrival-rate', rate: 150 });
    expect(definitions.reference.executor.executor).toBe('ramping-vus');
    expect(() => parseCliOptions(['--scenario', 'reference,soak', '--rate', '10'], {}, root)).toThrow(
      '--rate applies only to open-model scenarios; not to reference',
    );
  });

  it('should run memory-soak only when named, for as long as --duration says', () => {
    expect(parseCliOptions(['--scenario', 'all'], {}, root).scenarios).not.toContain('memory-soak');
    const options = parseCliOptions(['--scenario', 'memory-soak', '--duration', '90'], {}, root);
    expect(options).toMatchObject({ scenarios: ['memory-soak'], durationMs: 90_000 });
    expect(scenarioDefinitions(options)['memory-soak'].executor).toMatchObject({ duration: '90s' });
    expect(() => parseCliOptions(['--scenario', 'reference', '--duration', '60'], {}, root)).toThrow(
      '--duration applies only to scenarios with a fixed duration; not to reference',
    );
    expect(() => parseCliOptions(['--duration', '0'], {}, root)).toThrow(CliUsageError);
  });
});
