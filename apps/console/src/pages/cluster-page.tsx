import type { ClusterView, DeadLetterPage, DeadLetterReplay, Status } from '@keyflow/client';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, isUnauthenticated, problemOf } from '../api';
import { formatDuration, formatTime, problemMessage } from '../lib/format.util';
import { MetricsPanels } from './metrics-panels';

const REFRESH_MS = 5_000;
const DEAD_LETTER_PAGE = 20;

/**
 * The admin's view: every process of the stack with its health, the database primary and the queues
 * (`GET /v1/admin/cluster`), and the answering API's own view of its dependencies (`GET /v1/status`), every 5 s;
 * and charts of the deployment from Prometheus (`MetricsPanels`, `GET /v1/admin/metrics`), every 15 s.
 */
export function ClusterPage({ onSessionLost }: { onSessionLost: () => void }) {
  const [cluster, setCluster] = useState<{ view: ClusterView; servedBy: string | undefined }>();
  const [status, setStatus] = useState<Status>();
  const [error, setError] = useState<string>();
  const [paused, setPaused] = useState(false);
  const [letters, setLetters] = useState<DeadLetterPage>();
  const [replays, setReplays] = useState<Record<string, DeadLetterReplay | string>>({});

  const load = useCallback(async () => {
    try {
      const [c, s] = await Promise.all([api.cluster(), api.status()]);
      setCluster({ view: c.data, servedBy: c.servedBy });
      setStatus(s);
      setError(undefined);
      // The letters only when there are some: listing holds the queue's head for a moment.
      setLetters(c.data.deadLetters ? await api.deadLetters({ limit: DEAD_LETTER_PAGE }) : undefined);
    } catch (err) {
      if (isUnauthenticated(err)) onSessionLost();
      else setError(problemMessage(problemOf(err)));
    }
  }, [onSessionLost]);

  useEffect(() => {
    void load();
    if (paused) return;
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, paused]);

  const replay = async (operationId: string): Promise<void> => {
    try {
      const outcome = await api.replayDeadLetter(operationId);
      setReplays((r) => ({ ...r, [operationId]: outcome }));
      await load();
    } catch (err) {
      setReplays((r) => ({ ...r, [operationId]: problemMessage(problemOf(err)) }));
    }
  };

  const view = cluster?.view;
  const down = view?.processes.filter((p) => p.status === 'down').length ?? 0;
  const nonEmpty = view?.queues.filter((q) => q.name !== 'kv.dead-letter' && (q.messages ?? 0) > 0) ?? [];
  return (
    <section aria-labelledby="cluster-title">
      <h1 id="cluster-title">Cluster</h1>
      <div class="toolbar">
        <button type="button" onClick={() => void load()}>
          Refresh now
        </button>
        <label class="check">
          <input type="checkbox" checked={!paused} onChange={(e) => setPaused(!e.currentTarget.checked)} />
          Refresh every {REFRESH_MS / 1000} s
        </label>
        {view && (
          <span class="muted" role="status">
            Checked by {cluster?.servedBy ?? view.instance} {formatTime(view.checkedAt, Date.now())}
          </span>
        )}
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {view && (
        <>
          <div class="summary">
            <div class="card stat">
              <span class="label">Processes</span>
              <span class="value" data-testid="cluster-summary">
                {view.processes.length - down} of {view.processes.length} up
              </span>
            </div>
            <div class="card stat">
              <span class="label">Database primary</span>
              <span class="value" data-testid="cluster-primary">
                {view.databaseKind === 'cockroach'
                  ? 'every node (CockroachDB)'
                  : (view.databasePrimary ?? 'none answering')}
              </span>
            </div>
            <div class="card stat">
              <span class="label">Dead letters</span>
              <span class="value" data-testid="cluster-dead-letters">
                {view.deadLetters ?? 'unknown'}
              </span>
            </div>
            <div class="card stat">
              <span class="label">Queued writes</span>
              <span class="value">{nonEmpty.reduce((n, q) => n + (q.messages ?? 0), 0)}</span>
            </div>
          </div>
          <MetricsPanels onSessionLost={onSessionLost} />
          {letters && letters.total > 0 && (
            <div class="card" aria-labelledby="dead-letters-title">
              <h2 id="dead-letters-title">Dead letters</h2>
              <p class="muted">
                Writes the workers could not apply. A replay puts one back on its shard queue only if that cannot
                reorder or repeat it (as <code>npm run dlq -- replay --id …</code>); the first {letters.items.length} of{' '}
                {letters.total}.
              </p>
              <table class="list" aria-label="Dead letters" data-testid="dead-letters">
                <thead>
                  <tr>
                    <th scope="col">Operation</th>
                    <th scope="col">Write</th>
                    <th scope="col">Reason</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {letters.items.map((l, i) => {
                    const id = l.operationId;
                    return (
                      <tr key={id ?? `letter-${i}`}>
                        <td class="mono">{id ?? '(none)'}</td>
                        <td>
                          {l.type ?? '?'} <span class="mono">{l.key ?? ''}</span>
                        </td>
                        <td>
                          {l.reason}
                          {l.fromQueue && <span class="muted"> from {l.fromQueue}</span>}
                        </td>
                        <td>
                          {id && (
                            <button type="button" class="secondary small" onClick={() => void replay(id)}>
                              Replay
                            </button>
                          )}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          {Object.entries(replays).length > 0 && (
            <ul class="changes" aria-live="polite" data-testid="replays">
              {Object.entries(replays).map(([id, r]) => (
                <li key={id}>
                  <span class="mono">{id}</span>: {typeof r === 'string' ? r : `${r.result} — ${r.messages.join(' ')}`}
                </li>
              ))}
            </ul>
          )}
          <div class="card">
            <h2>Processes{view.topology ? ` of “${view.topology}”` : ''}</h2>
            {view.processes.length === 0 ? (
              <p class="muted">This API instance was given no topology (CLUSTER_TOPOLOGY), so it lists no processes.</p>
            ) : (
              <table class="list" aria-label="Processes" data-testid="processes">
                <thead>
                  <tr>
                    <th scope="col">Process</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Address</th>
                    <th scope="col">Health</th>
                  </tr>
                </thead>
                <tbody>
                  {view.processes.map((p) => (
                    <tr key={p.name} data-testid="process-row">
                      <td>
                        {p.name}
                        {p.role && <span class="muted"> ({p.role})</span>}
                      </td>
                      <td>{p.kind}</td>
                      <td class="mono">{p.address}</td>
                      <td>
                        <span class={`badge ${p.status}`}>{p.status}</span>{' '}
                        <span class="muted">{p.status === 'up' ? `${p.latencyMs} ms` : (p.detail ?? '')}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </div>
          <div class="card">
            <h2>Queues</h2>
            <table class="list" aria-label="Queues">
              <thead>
                <tr>
                  <th scope="col">Queue</th>
                  <th scope="col">Ready messages</th>
                  <th scope="col">Consumers</th>
                </tr>
              </thead>
              <tbody>
                {view.queues.map((q) => (
                  <tr key={q.name}>
                    <td class="mono">{q.name}</td>
                    <td>{q.messages ?? 'unknown'}</td>
                    <td>{q.consumers ?? 'unknown'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {status && (
        <div class="card">
          <h2>
            {status.instance}: its dependencies <span class="muted">(GET /v1/status)</span>
          </h2>
          <p class="muted">
            Up {formatDuration(status.uptimeSeconds * 1000)}, since {formatTime(status.startedAt, Date.now())}
          </p>
          <ul class="deps">
            {Object.entries(status.dependencies).map(([name, dep]) => (
              <li key={name}>
                <span class={`badge ${dep.status}`}>{dep.status}</span> {name}
                {dep.message && <span class="muted"> — {dep.message}</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
