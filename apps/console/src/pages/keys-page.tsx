import { type Entry, KeyflowProblem, type ListItem, type WatchEvent } from '@keyflow/client';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, isUnauthenticated, problemOf } from '../api';
import {
  type Conflict,
  conflictOf,
  conflictSummary,
  type EditBase,
  resolveConflict,
  writeCondition,
} from '../lib/conflict.util';
import {
  formatExpiry,
  formatJson,
  formatTime,
  parseJsonInput,
  parseTtl,
  previewJson,
  problemMessage,
} from '../lib/format.util';
import {
  currentCursor,
  firstPage,
  hasNext,
  hasPrevious,
  nextPage,
  pageLabel,
  pageLoaded,
  type PagingState,
  previousPage,
} from '../lib/paging.util';
import { navigate } from '../router';

const PAGE_SIZE = 20;
/** A write waits this long for its outcome (`Prefer: wait`), so the editor can say "saved" or show a conflict. */
const WRITE_WAIT_S = 10;
const RECENT_CHANGES = 20;

interface Editor {
  base: EditBase;
  /** A new key: its name is still editable. */
  creating: boolean;
  text: string;
  ttl: string;
}

type Opened = { key: string; entry: Entry | undefined; loading: boolean };

export function KeysPage({ params, onSessionLost }: { params: URLSearchParams; onSessionLost: () => void }) {
  const prefix = params.get('prefix') ?? '';
  const openKey = params.get('key') ?? undefined;
  const [prefixInput, setPrefixInput] = useState(prefix);
  const [paging, setPaging] = useState<PagingState>(() => firstPage(prefix));
  const [items, setItems] = useState<ListItem[]>([]);
  const [listError, setListError] = useState<string>();
  const [opened, setOpened] = useState<Opened>();
  const [editor, setEditor] = useState<Editor>();
  const [conflict, setConflict] = useState<Conflict>();
  const [notice, setNotice] = useState<string>();
  const [error, setError] = useState<string>();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [follow, setFollow] = useState(false);
  const [followState, setFollowState] = useState<'off' | 'connecting' | 'live'>('off');
  const [changes, setChanges] = useState<WatchEvent[]>([]);
  const [listVersion, setListVersion] = useState(0);
  const editorRef = useRef<HTMLTextAreaElement>(null);

  const fail = useCallback(
    (err: unknown, set: (m: string) => void) => {
      if (isUnauthenticated(err)) onSessionLost();
      else set(problemMessage(problemOf(err)));
    },
    [onSessionLost],
  );

  // A new prefix starts from its first page.
  useEffect(() => {
    setPrefixInput(prefix);
    setPaging(firstPage(prefix));
  }, [prefix]);

  const cursor = currentCursor(paging);
  useEffect(() => {
    const abort = new AbortController();
    setListError(undefined);
    api
      .listPage(paging.prefix, cursor, { limit: PAGE_SIZE, strong: true, signal: abort.signal })
      .then((page) => {
        setItems(page.items);
        setPaging((p) => pageLoaded(p, page.cursor));
      })
      .catch((err: unknown) => {
        if (!abort.signal.aborted) fail(err, setListError);
      });
    return () => abort.abort();
  }, [paging.prefix, paging.index, cursor, listVersion, fail]);

  const loadKey = useCallback(
    async (key: string) => {
      setOpened({ key, entry: undefined, loading: true });
      try {
        const entry = await api.get(key, { strong: true });
        setOpened({ key, entry, loading: false });
      } catch (err) {
        setOpened({ key, entry: undefined, loading: false });
        fail(err, setError);
      }
    },
    [fail],
  );

  useEffect(() => {
    setEditor(undefined);
    setConflict(undefined);
    setConfirmDelete(false);
    setError(undefined);
    if (openKey === undefined) setOpened(undefined);
    else void loadKey(openKey);
  }, [openKey, loadKey]);

  // Live follow: every applied write under the prefix, from the watch stream; the list is re-read as they come.
  useEffect(() => {
    if (!follow) {
      setFollowState('off');
      return;
    }
    const abort = new AbortController();
    setFollowState('connecting');
    setChanges([]);
    void (async () => {
      try {
        for await (const event of api.watch(prefix, { signal: abort.signal, onOpen: () => setFollowState('live') })) {
          setChanges((c) => [event, ...c].slice(0, RECENT_CHANGES));
          setListVersion((v) => v + 1);
        }
      } catch (err) {
        if (!abort.signal.aborted) {
          fail(err, setListError);
          setFollow(false);
        }
      }
    })();
    return () => abort.abort();
  }, [follow, prefix, fail]);

  // The opened key changed under the watch: say so (an edit of it would conflict).
  const latest = changes[0];
  const staleOpened =
    opened?.entry && latest && latest.key === opened.key && latest.version > opened.entry.version ? latest : undefined;

  const search = (event: Event): void => {
    event.preventDefault();
    navigate('keys', prefixInput ? { prefix: prefixInput } : {});
  };

  const open = (key: string): void => navigate('keys', { ...(prefix ? { prefix } : {}), key });
  const close = (): void => navigate('keys', prefix ? { prefix } : {});

  const startCreate = (): void => {
    setConflict(undefined);
    setNotice(undefined);
    setError(undefined);
    setEditor({ base: { key: prefix, version: 0 }, creating: true, text: '', ttl: '' });
  };

  const startEdit = (entry: Entry): void => {
    setConflict(undefined);
    setNotice(undefined);
    setError(undefined);
    setEditor({
      base: { key: entry.key, version: entry.version },
      creating: false,
      text: formatJson(entry.value),
      ttl: '',
    });
    queueMicrotask(() => editorRef.current?.focus());
  };

  const save = async (ed: Editor): Promise<void> => {
    setError(undefined);
    setNotice(undefined);
    const key = ed.base.key.trim();
    if (!key) return setError('Name the key.');
    const parsed = parseJsonInput(ed.text);
    if (!parsed.ok) return setError(parsed.error);
    const ttl = parseTtl(ed.ttl);
    if (!ttl.ok) return setError(ttl.error);
    const base = { ...ed.base, key };
    try {
      const result = await api.put(key, parsed.value as Entry['value'], {
        ...writeCondition(base),
        wait: WRITE_WAIT_S,
        ...(ttl.value === undefined ? {} : { ttl: ttl.value }),
      });
      setEditor(undefined);
      setNotice(
        result.status === 'applied'
          ? `Saved ${key}: version ${result.version}.`
          : `Accepted ${key}; it is being applied (operation ${result.status === 'accepted' ? result.operationId : ''}).`,
      );
      setListVersion((v) => v + 1);
      if (openKey === key) await loadKey(key);
      else open(key);
    } catch (err) {
      if (err instanceof KeyflowProblem && err.status === 412) {
        const theirs = await api.get(key, { strong: true }).catch(() => undefined);
        // What is shown of the key is theirs from now on (a delete must be conditioned on their version too).
        if (openKey === key) setOpened({ key, entry: theirs, loading: false });
        setConflict(
          conflictOf(
            base,
            ed.text,
            theirs
              ? {
                  deleted: false,
                  version: theirs.version,
                  value: theirs.value,
                  ...(theirs.expiresAt ? { expiresAt: theirs.expiresAt } : {}),
                }
              : { deleted: true, version: Number(err.problem['currentVersion'] ?? 0) },
          ),
        );
        setEditor({ ...ed, base });
      } else {
        fail(err, setError);
      }
    }
  };

  const choose = async (choice: 'keep-mine' | 'take-theirs'): Promise<void> => {
    if (!conflict || !editor) return;
    const next = resolveConflict(conflict, choice);
    const ed: Editor = { ...editor, base: next.base, text: next.text, creating: editor.creating };
    setConflict(undefined);
    setEditor(ed);
    if (next.write) await save(ed);
  };

  const remove = async (entry: Entry): Promise<void> => {
    setError(undefined);
    try {
      await api.delete(entry.key, { ifMatch: entry.version, wait: WRITE_WAIT_S });
      setConfirmDelete(false);
      setNotice(`Deleted ${entry.key}.`);
      setListVersion((v) => v + 1);
      close();
    } catch (err) {
      setConfirmDelete(false);
      if (err instanceof KeyflowProblem && err.status === 412) {
        setError(`Not deleted: ${entry.key} changed since you opened it. Here is its current state.`);
        await loadKey(entry.key);
      } else {
        fail(err, setError);
      }
    }
  };

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">Keys</h1>
      <form class="toolbar" role="search" onSubmit={search}>
        <label for="keys-prefix">Prefix</label>
        <input
          id="keys-prefix"
          name="prefix"
          placeholder="e.g. user:"
          autoCapitalize="none"
          spellcheck={false}
          value={prefixInput}
          onInput={(e) => setPrefixInput(e.currentTarget.value)}
        />
        <button type="submit">Browse</button>
        <button type="button" class="secondary" onClick={startCreate}>
          New key
        </button>
        <label class="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} />
          Follow changes live
        </label>
        <span class="muted" role="status" data-testid="follow-state">
          {followState === 'live' ? 'following' : followState === 'connecting' ? 'connecting…' : ''}
        </span>
      </form>

      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}

      {conflict && (
        <div
          class="card conflict"
          role="alertdialog"
          aria-labelledby="conflict-title"
          aria-describedby="conflict-summary"
        >
          <h2 id="conflict-title">Conflict</h2>
          <p id="conflict-summary">{conflictSummary(conflict)}</p>
          <div class="columns">
            <div>
              <h3>Their value{conflict.theirs.deleted ? '' : ` (version ${conflict.theirs.version})`}</h3>
              <pre data-testid="conflict-theirs">
                {conflict.theirs.deleted ? '(deleted)' : formatJson(conflict.theirs.value)}
              </pre>
            </div>
            <div>
              <h3>Your value</h3>
              <pre data-testid="conflict-mine">{conflict.mine}</pre>
            </div>
          </div>
          <div class="actions">
            <button type="button" onClick={() => void choose('keep-mine')}>
              Save mine over theirs
            </button>
            <button type="button" class="secondary" onClick={() => void choose('take-theirs')}>
              Use theirs and edit again
            </button>
            <button type="button" class="secondary" onClick={() => setConflict(undefined)}>
              Cancel
            </button>
          </div>
        </div>
      )}

      {editor && !conflict && (
        <form
          class="card editor"
          aria-labelledby="editor-title"
          onSubmit={(e) => {
            e.preventDefault();
            void save(editor);
          }}
        >
          <h2 id="editor-title">{editor.creating ? 'New key' : `Edit ${editor.base.key}`}</h2>
          {editor.creating && (
            <>
              <label for="editor-key">Key</label>
              <input
                id="editor-key"
                required
                autoCapitalize="none"
                spellcheck={false}
                value={editor.base.key}
                onInput={(e) => setEditor({ ...editor, base: { ...editor.base, key: e.currentTarget.value } })}
              />
            </>
          )}
          <label for="editor-value">Value (JSON)</label>
          <textarea
            id="editor-value"
            ref={editorRef}
            rows={10}
            spellcheck={false}
            value={editor.text}
            onInput={(e) => setEditor({ ...editor, text: e.currentTarget.value })}
          />
          <label for="editor-ttl">TTL (optional)</label>
          <input
            id="editor-ttl"
            placeholder="none; e.g. 90, 10m, 2h"
            aria-describedby="editor-ttl-help"
            value={editor.ttl}
            onInput={(e) => setEditor({ ...editor, ttl: e.currentTarget.value })}
          />
          <p id="editor-ttl-help" class="muted">
            Seconds until the key expires. Empty: it never does (saving without a TTL clears an earlier one).
          </p>
          <p class="muted">
            {editor.base.version > 0
              ? `Saved only if the key is still at version ${editor.base.version}.`
              : 'Saved only if the key does not exist yet.'}
          </p>
          <div class="actions">
            <button type="submit">Save</button>
            <button type="button" class="secondary" onClick={() => setEditor(undefined)}>
              Cancel
            </button>
          </div>
        </form>
      )}

      {opened && !editor && !conflict && (
        <article class="card" aria-labelledby="entry-title" data-testid="entry">
          <h2 id="entry-title">{opened.key}</h2>
          {opened.loading && <p role="status">Loading…</p>}
          {!opened.loading && !opened.entry && <p>This key does not exist (or has expired).</p>}
          {opened.entry && (
            <>
              {staleOpened && (
                <p class="notice" role="status">
                  Changed meanwhile: now version {staleOpened.version}.{' '}
                  <button type="button" class="link" onClick={() => void loadKey(opened.key)}>
                    Show it
                  </button>
                </p>
              )}
              <dl class="facts">
                <dt>Version</dt>
                <dd data-testid="entry-version">{opened.entry.version}</dd>
                <dt>Updated</dt>
                <dd>{formatTime(opened.entry.updatedAt, Date.now())}</dd>
                <dt>Expires</dt>
                <dd data-testid="entry-expiry">{formatExpiry(opened.entry.expiresAt, Date.now())}</dd>
              </dl>
              <pre class="json" data-testid="entry-value" tabIndex={0} aria-label={`Value of ${opened.key}`}>
                {formatJson(opened.entry.value)}
              </pre>
              <div class="actions">
                <button type="button" onClick={() => opened.entry && startEdit(opened.entry)}>
                  Edit
                </button>
                {!confirmDelete ? (
                  <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
                    Delete
                  </button>
                ) : (
                  <button type="button" class="danger" onClick={() => opened.entry && void remove(opened.entry)}>
                    Really delete version {opened.entry.version}?
                  </button>
                )}
                <button type="button" class="secondary" onClick={close}>
                  Close
                </button>
              </div>
            </>
          )}
        </article>
      )}

      <div class="card">
        <h2 class="inline">{prefix ? `Keys under “${prefix}”` : 'All keys'}</h2>{' '}
        <button type="button" class="secondary small" onClick={() => setListVersion((v) => v + 1)}>
          Refresh
        </button>
        {listError && (
          <p class="error" role="alert">
            {listError}
          </p>
        )}
        {items.length === 0 && !listError ? (
          <p class="muted">No keys{prefix ? ` under “${prefix}”` : ''}.</p>
        ) : (
          <table class="list" aria-label="Keys">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Version</th>
                <th scope="col" class="wide">
                  Value
                </th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {items.map((item) => (
                <tr key={item.key} aria-current={item.key === openKey ? 'true' : undefined}>
                  <td>
                    <button type="button" class="link" onClick={() => open(item.key)}>
                      {item.key}
                    </button>
                  </td>
                  <td>{item.version}</td>
                  <td class="wide mono">{previewJson(item.value)}</td>
                  <td>{item.expiresAt ? formatExpiry(item.expiresAt, Date.now()) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <nav class="pager" aria-label="Pages of keys">
          <button
            type="button"
            class="secondary"
            disabled={!hasPrevious(paging)}
            onClick={() => setPaging(previousPage)}
          >
            Previous
          </button>
          <span role="status">{pageLabel(paging)}</span>
          <button type="button" class="secondary" disabled={!hasNext(paging)} onClick={() => setPaging(nextPage)}>
            Next
          </button>
        </nav>
      </div>

      {follow && (
        <div class="card" aria-labelledby="changes-title">
          <h2 id="changes-title">Live changes</h2>
          {changes.length === 0 ? (
            <p class="muted">No change under “{prefix}” since you started following.</p>
          ) : (
            <ul class="changes" aria-live="polite" data-testid="changes">
              {changes.map((c) => (
                <li key={c.revision}>
                  <span class={`badge ${c.kind}`}>{c.kind}</span> <span class="mono">{c.key}</span> v{c.version}{' '}
                  <span class="muted">{formatTime(c.updatedAt, Date.now())}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
