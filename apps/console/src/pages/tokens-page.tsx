import type { CreatedToken, TokenInfo } from '@keyflow/client';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, isUnauthenticated, problemOf } from '../api';
import { formatTime, problemMessage } from '../lib/format.util';

/** Copies `text`: the Clipboard API where the page is a secure context, else the selection and `copy`. */
async function copyText(text: string, fallback: HTMLInputElement | null): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused: try the selection below.
    }
  }
  if (!fallback) return false;
  fallback.select();
  return document.execCommand('copy');
}

/** A token's grants in a few words: `null` acts as its owner. */
function grantsText(grants: TokenInfo['grants']): string {
  if (grants === null) return 'as you';
  if (grants.length === 0) return 'nothing';
  return grants.map((g) => `${g.access} ${g.prefix === '' ? 'every key' : `“${g.prefix}”`}`).join(', ');
}

export function TokensPage({ onSessionLost }: { onSessionLost: () => void }) {
  const [tokens, setTokens] = useState<TokenInfo[]>();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<CreatedToken>();
  const [copied, setCopied] = useState<string>();
  const [error, setError] = useState<string>();
  const [confirmRevoke, setConfirmRevoke] = useState<string>();
  const secretRef = useRef<HTMLInputElement>(null);

  const fail = useCallback(
    (err: unknown) => {
      if (isUnauthenticated(err)) onSessionLost();
      else setError(problemMessage(problemOf(err)));
    },
    [onSessionLost],
  );

  const load = useCallback(async () => {
    try {
      setTokens(await api.listTokens());
    } catch (err) {
      fail(err);
    }
  }, [fail]);

  useEffect(() => {
    void load();
  }, [load]);

  const create = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setCopied(undefined);
    try {
      setCreated(await api.createToken(name.trim()));
      setName('');
      await load();
      queueMicrotask(() => secretRef.current?.focus());
    } catch (err) {
      fail(err);
    }
  };

  const revoke = async (id: string): Promise<void> => {
    setError(undefined);
    setConfirmRevoke(undefined);
    try {
      await api.revokeToken(id);
      if (created?.id === id) setCreated(undefined);
      await load();
    } catch (err) {
      fail(err);
    }
  };

  const copy = async (): Promise<void> => {
    if (!created) return;
    setCopied((await copyText(created.token, secretRef.current)) ? 'Copied.' : 'Select the token and copy it.');
  };

  const now = Date.now();
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">API tokens</h1>
      <p class="muted">
        For scripts and the CLI: send <code>Authorization: Bearer &lt;token&gt;</code>. A token acts as you until
        revoked.
      </p>
      <form class="toolbar" onSubmit={(e) => void create(e)}>
        <label for="token-name">Name</label>
        <input
          id="token-name"
          required
          maxLength={100}
          placeholder="e.g. ci-pipeline"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
        <button type="submit">Create token</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <div class="card notice" role="status" aria-labelledby="created-title">
          <h2 id="created-title">Token “{created.name}” created</h2>
          <p>Copy it now: it is shown only this once (keyflow keeps only its hash).</p>
          <div class="toolbar">
            <label for="token-secret" class="visually-hidden">
              The new token
            </label>
            <input
              id="token-secret"
              ref={secretRef}
              class="mono"
              readOnly
              value={created.token}
              data-testid="token-secret"
            />
            <button type="button" onClick={() => void copy()}>
              Copy
            </button>
            <button type="button" class="secondary" onClick={() => setCreated(undefined)}>
              Done
            </button>
          </div>
          {copied && <p>{copied}</p>}
        </div>
      )}
      <div class="card">
        {tokens === undefined ? (
          <p role="status">Loading…</p>
        ) : tokens.length === 0 ? (
          <p class="muted">You have no tokens.</p>
        ) : (
          <table class="list" aria-label="Your tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Access</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.map((t) => (
                <tr key={t.id} data-testid="token-row">
                  <td>{t.name}</td>
                  <td>{formatTime(t.createdAt, now)}</td>
                  <td>{grantsText(t.grants)}</td>
                  <td>{t.expiresAt ? formatTime(t.expiresAt, now) : 'never'}</td>
                  <td>{t.lastUsedAt ? formatTime(t.lastUsedAt, now) : 'never'}</td>
                  <td>
                    {confirmRevoke === t.id ? (
                      <button type="button" class="danger" onClick={() => void revoke(t.id)}>
                        Really revoke “{t.name}”?
                      </button>
                    ) : (
                      <button type="button" class="danger" onClick={() => setConfirmRevoke(t.id)}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
