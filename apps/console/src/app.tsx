import type { SessionInfo } from '@keyflow/client';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, isUnauthenticated, problemOf } from './api';
import { problemMessage } from './lib/format.util';
import { ClusterPage } from './pages/cluster-page';
import { KeysPage } from './pages/keys-page';
import { LoginPage } from './pages/login-page';
import { ProfilePage } from './pages/profile-page';
import { TokensPage } from './pages/tokens-page';
import { href, navigate, type Route, useRoute } from './router';

/** The session as the profile shows it: the answer of `GET /v1/auth/session` and who served it. */
export interface SessionView {
  info: SessionInfo;
  servedBy: string | undefined;
  gateway: string | undefined;
}

type State =
  | { kind: 'loading' }
  | { kind: 'anonymous' }
  | { kind: 'error'; message: string }
  | { kind: 'in'; session: SessionView };

const NAV: Array<{ route: Route; label: string; admin?: boolean }> = [
  { route: 'profile', label: 'Profile' },
  { route: 'keys', label: 'Keys' },
  { route: 'tokens', label: 'Tokens' },
  { route: 'cluster', label: 'Cluster', admin: true },
];

export function App() {
  const { route, params } = useRoute();
  const [state, setState] = useState<State>({ kind: 'loading' });

  const load = useCallback(async () => {
    try {
      const { data, servedBy, gateway } = await api.session();
      setState({ kind: 'in', session: { info: data, servedBy, gateway } });
    } catch (err) {
      if (isUnauthenticated(err)) setState({ kind: 'anonymous' });
      else setState({ kind: 'error', message: problemMessage(problemOf(err)) });
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  // Pages other than login need a session; the login page is pointless with one.
  useEffect(() => {
    if (state.kind === 'anonymous' && route !== 'login') navigate('login');
    if (state.kind === 'in' && route === 'login') navigate('profile');
  }, [state.kind, route]);

  const onLoggedIn = useCallback(async () => {
    await load();
    navigate('profile');
  }, [load]);

  const onLoggedOut = useCallback(() => {
    setState({ kind: 'anonymous' });
    navigate('login');
  }, []);

  /** Any page that meets a 401 (the session ended, or was logged out elsewhere) returns to the login page. */
  const onSessionLost = useCallback(() => setState({ kind: 'anonymous' }), []);

  const session = state.kind === 'in' ? state.session : undefined;
  const isAdmin = session?.info.role === 'admin';

  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href={href(session ? 'profile' : 'login')}>
          keyflow
        </a>
        {session && (
          <nav aria-label="Pages">
            <ul>
              {NAV.filter((n) => !n.admin || isAdmin).map((n) => (
                <li key={n.route}>
                  <a href={href(n.route)} aria-current={route === n.route ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {session && (
          <span class="whoami" data-testid="whoami">
            {session.info.username}
          </span>
        )}
      </header>
      <main id="main">
        {state.kind === 'loading' && <p role="status">Loading…</p>}
        {state.kind === 'error' && (
          <div class="error" role="alert">
            <p>{state.message}</p>
            <button type="button" onClick={() => void load()}>
              Try again
            </button>
          </div>
        )}
        {state.kind === 'anonymous' && <LoginPage onLoggedIn={onLoggedIn} />}
        {session && route === 'profile' && <ProfilePage session={session} onLoggedOut={onLoggedOut} />}
        {session && route === 'keys' && <KeysPage params={params} onSessionLost={onSessionLost} />}
        {session && route === 'tokens' && <TokensPage onSessionLost={onSessionLost} />}
        {session &&
          route === 'cluster' &&
          (isAdmin ? (
            <ClusterPage onSessionLost={onSessionLost} />
          ) : (
            <section aria-labelledby="forbidden-title">
              <h1 id="forbidden-title">Cluster</h1>
              <p class="error" role="alert">
                The cluster page is for admins; you are logged in as a {session.info.role}.
              </p>
            </section>
          ))}
      </main>
    </div>
  );
}
