import { describe, expect, it } from 'vitest';
import { foreignOrigin } from './same-origin.util';

describe(foreignOrigin.name, () => {
  const host = 'keyflow.test:8080';

  it.each([
    ['the same origin', { origin: 'http://keyflow.test:8080', host }, undefined],
    ['the same origin in other case', { origin: 'http://KEYFLOW.test:8080', host }, undefined],
    ['no Origin and no Referer', { host }, undefined],
    ['a same-origin Referer', { referer: 'http://keyflow.test:8080/docs', host }, undefined],
    ['a trusted origin', { origin: 'https://console.example', host }, undefined],
  ])('should accept %s', (_what, headers, expected) => {
    expect(foreignOrigin(headers, 'http', ['https://console.example'])).toBe(expected);
  });

  it.each([
    ['another host', { origin: 'http://evil.example', host }, 'http://evil.example'],
    ['another port', { origin: 'http://keyflow.test:8081', host }, 'http://keyflow.test:8081'],
    ['another scheme', { origin: 'https://keyflow.test:8080', host }, 'https://keyflow.test:8080'],
    ['an opaque origin', { origin: 'null', host }, 'null'],
    ['a foreign Referer', { referer: 'http://evil.example/page', host }, 'http://evil.example'],
    ['a garbled Referer', { referer: 'not a url', host }, 'not a url'],
    ['an Origin without a Host to compare', { origin: 'http://keyflow.test:8080' }, 'http://keyflow.test:8080'],
  ])('should refuse %s', (_what, headers, expected) => {
    expect(foreignOrigin(headers, 'http')).toBe(expected);
  });

  it('should take the scheme the request came over (https behind a TLS terminator the API trusts)', () => {
    expect(foreignOrigin({ origin: `https://${host}`, host }, 'https')).toBeUndefined();
    expect(foreignOrigin({ origin: `http://${host}`, host }, 'https')).toBe(`http://${host}`);
  });

  it('should prefer Origin over Referer', () => {
    expect(foreignOrigin({ origin: 'http://evil.example', referer: `http://${host}/`, host }, 'http')).toBe(
      'http://evil.example',
    );
  });
});
