import { useEffect, useState } from 'preact/hooks';

/** The console's pages, one per `#/<page>`: hash routes, so every gateway serves the same index.html for all. */
export type Route = 'login' | 'profile' | 'keys' | 'cluster' | 'tokens';

const ROUTES: readonly Route[] = ['login', 'profile', 'keys', 'cluster', 'tokens'];

export function parseRoute(hash: string): { route: Route; params: URLSearchParams } {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const route = (ROUTES as readonly string[]).includes(path) ? (path as Route) : 'profile';
  return { route, params: new URLSearchParams(query) };
}

export function href(route: Route, params: Record<string, string> = {}): string {
  const query = new URLSearchParams(params).toString();
  return `#/${route}${query ? `?${query}` : ''}`;
}

export function navigate(route: Route, params: Record<string, string> = {}): void {
  window.location.hash = href(route, params);
}

/** The route of the address bar, following its changes (links, back, forward). */
export function useRoute(): { route: Route; params: URLSearchParams } {
  const [state, setState] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = (): void => setState(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return state;
}
