import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderBaselineNginxConf } from './nginx-conf.util';
import { nginxBinary, NginxProcess } from './nginx-process.service';

const hasNginx = existsSync(nginxBinary());

describe(renderBaselineNginxConf.name, () => {
  it('should render the gateway proxy settings in front of the hello server', () => {
    expect(
      renderBaselineNginxConf({ prefix: '/tmp/kf-baseline', listenPort: 18081, upstreamPort: 18082 }),
    ).toMatchSnapshot();
  });

  it.skipIf(!hasNginx)('should be accepted by nginx -t', async () => {
    const stderr = await NginxProcess.test((prefix) =>
      renderBaselineNginxConf({ prefix, listenPort: 18081, upstreamPort: 18082 }),
    );
    expect(stderr).toContain('test is successful');
  });
});
