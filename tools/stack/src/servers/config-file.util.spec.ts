import { describe, expect, it } from 'vitest';
import { configDirective } from './config-file.util';

describe(configDirective.name, () => {
  it('should read an nginx directive and ignore commented and nested look-alikes', () => {
    const conf = ['# pid /wrong.pid;', 'daemon on;', 'pid /tmp/s/run/nginx.pid; # master', 'http {', '}'].join('\n');
    expect(configDirective(conf, 'pid')).toBe('/tmp/s/run/nginx.pid');
  });

  it('should read a HAProxy directive, quoted or not', () => {
    expect(configDirective('global\n    pidfile /tmp/s/run/haproxy.pid\n', 'pidfile')).toBe('/tmp/s/run/haproxy.pid');
    expect(configDirective('global\n    pidfile "/tmp/s/run/h.pid"\n', 'pidfile')).toBe('/tmp/s/run/h.pid');
  });

  it('should return undefined when the directive is absent', () => {
    expect(configDirective('daemon on;\n', 'pid')).toBeUndefined();
  });
});
