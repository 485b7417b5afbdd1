import { useState } from 'preact/hooks';
import { api, problemOf } from '../api';
import type { SessionView } from '../app';
import { formatTime, problemMessage } from '../lib/format.util';

/**
 * Who is logged in and who served the page. The instance is the API that answered this page's session request
 * (`X-Served-By`); reload, and the gateways may send it to another one, while the session (in Redis) stays the same.
 */
export function ProfilePage({ session, onLoggedOut }: { session: SessionView; onLoggedOut: () => void }) {
  const { info, servedBy, gateway } = session;
  const [error, setError] = useState<string>();
  const now = Date.now();

  const logout = async (): Promise<void> => {
    setError(undefined);
    try {
      await api.logout();
      onLoggedOut();
    } catch (err) {
      setError(problemMessage(problemOf(err)));
    }
  };

  return (
    <section class="card" aria-labelledby="profile-title">
      <h1 id="profile-title">Profile</h1>
      <dl class="facts">
        <dt>User</dt>
        <dd data-testid="profile-username">{info.username}</dd>
        <dt>Role</dt>
        <dd data-testid="profile-role">{info.role}</dd>
        <dt>API instance</dt>
        <dd data-testid="profile-instance">{servedBy ?? info.instance}</dd>
        <dt>Gateway reached</dt>
        <dd data-testid="profile-gateway">
          {gateway ?? 'not through a gateway'} <span class="muted">(as {window.location.host})</span>
        </dd>
        <dt>Session started</dt>
        <dd data-testid="profile-started">{formatTime(info.startedAt, now)}</dd>
        <dt>Session expires</dt>
        <dd data-testid="profile-expires">
          {formatTime(info.expiresAt, now)}
          <span class="muted">
            {' '}
            — idle limit, pushed on by every request; at the latest {formatTime(info.absoluteExpiresAt, now)}
          </span>
        </dd>
      </dl>
      <p class="muted">Reload the page: another gateway or API instance may answer, and you stay logged in.</p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <div class="actions">
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
        <button type="button" class="secondary" onClick={() => void logout()}>
          Log out
        </button>
      </div>
    </section>
  );
}
