/**
 * CSRF defence for cookie-authenticated writes: the browser says where a request comes from in `Origin` (or,
 * failing that, `Referer`). A request from another origin is refused. A request with neither header is not
 * from a browser page (browsers send `Origin` on every cross-site unsafe request), so it is let through;
 * `SameSite=Lax` on the cookie is the second line.
 *
 * Returns the foreign origin, or `undefined` when the request is same-origin or carries no origin at all.
 */
export function foreignOrigin(
  headers: { origin?: string; referer?: string; host?: string },
  protocol: string,
  trusted: readonly string[] = [],
): string | undefined {
  const claimed = headers.origin ?? originOf(headers.referer);
  if (claimed === undefined) return undefined;
  const own = headers.host ? `${protocol}://${headers.host.toLowerCase()}` : undefined;
  const normalised = claimed.toLowerCase();
  if (normalised === own || trusted.includes(normalised)) return undefined;
  return claimed;
}

function originOf(referer: string | undefined): string | undefined {
  if (referer === undefined) return undefined;
  try {
    return new URL(referer).origin;
  } catch {
    // An unparseable Referer is treated as foreign: it cannot be shown to be ours.
    return referer;
  }
}
