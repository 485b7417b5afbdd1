import type { MetricsPanel, MetricsView, MetricsWindow } from '@keyflow/client';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, isUnauthenticated, problemOf } from '../api';
import { axisMax, type ChartBox, formatMetric, formatWindow, linePath } from '../lib/chart.util';
import { problemMessage } from '../lib/format.util';

const REFRESH_MS = 15_000;
const WINDOWS: MetricsWindow[] = ['15m', '1h', '6h'];
const WIDTH = 300;
const HEIGHT = 80;
/** Series colours are classes (`.series-0` …) in styles.css: the CSP forbids inline styles. */
const COLOURS = 6;

/**
 * The Prometheus panels of the cluster page (`GET /v1/admin/metrics`): a fixed set of charts the API computes, over
 * the chosen window, every 15 s. When the API has no Prometheus, or it does not answer, a sentence says so instead.
 */
export function MetricsPanels({ onSessionLost }: { onSessionLost: () => void }) {
  const [span, setSpan] = useState<MetricsWindow>('15m');
  const [view, setView] = useState<MetricsView>();
  const [error, setError] = useState<{ status: number; message: string }>();

  const load = useCallback(async () => {
    try {
      setView(await api.metrics(span));
      setError(undefined);
    } catch (err) {
      if (isUnauthenticated(err)) return onSessionLost();
      const problem = problemOf(err);
      setError({
        status: problem.status,
        message: unavailableMessage(problem.status, problem.detail, problemMessage(problem)),
      });
    }
  }, [span, onSessionLost]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const seconds = view ? (Date.parse(view.end) - Date.parse(view.start)) / 1000 : undefined;
  return (
    <div class="card" aria-labelledby="metrics-title" data-testid="metrics">
      <h2 id="metrics-title" class="inline">
        Metrics <span class="muted">from Prometheus{seconds ? `, last ${formatWindow(seconds)}` : ''}</span>
      </h2>
      <div class="toolbar">
        <label>
          Window{' '}
          <select value={span} onChange={(e) => setSpan(e.currentTarget.value as MetricsWindow)}>
            {WINDOWS.map((w) => (
              <option key={w} value={w}>
                {formatWindow(w.endsWith('m') ? Number.parseInt(w, 10) * 60 : Number.parseInt(w, 10) * 3600)}
              </option>
            ))}
          </select>
        </label>
        <span class="muted">Refreshed every {REFRESH_MS / 1000} s</span>
      </div>
      {error && (
        <p class="notice" role="status" data-testid="metrics-unavailable">
          {error.message}
          {view && ' The charts below are from the last answer.'}
        </p>
      )}
      {view && (
        <div class="charts">
          {view.panels.map((panel) => (
            <Panel key={panel.name} panel={panel} view={view} />
          ))}
        </div>
      )}
    </div>
  );
}

function unavailableMessage(status: number, detail: string | undefined, fallback: string): string {
  if (status === 503 && detail?.startsWith('metrics not configured')) {
    return 'Prometheus is not configured for this API (PROMETHEUS_URL), so there are no charts.';
  }
  if (status === 503) return `Prometheus does not answer: ${detail ?? 'no detail'}.`;
  return fallback;
}

function Panel({ panel, view }: { panel: MetricsPanel; view: MetricsView }) {
  const box: ChartBox = {
    width: WIDTH,
    height: HEIGHT,
    start: Date.parse(view.start) / 1000,
    end: Date.parse(view.end) / 1000,
    stepSeconds: view.stepSeconds,
  };
  const yMax = axisMax(
    panel.series.flatMap((s) => s.points.map((p) => p.v)),
    panel.unit,
  );
  const current = panel.series.map((s) => ({ label: s.label, last: s.points.at(-1) }));
  const summary = current
    .map((c) => `${c.label} ${c.last ? formatMetric(c.last.v, panel.unit) : 'no data'}`)
    .join(', ');
  return (
    <figure class="chart" data-testid="metrics-panel" data-panel={panel.name}>
      <figcaption>
        <strong>{panel.title}</strong> <span class="muted">({panel.unit})</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${panel.title}: ${summary || 'no data'}`}
      >
        <title>{panel.description}</title>
        <line class="axis" x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} />
        <line class="grid" x1="0" y1={HEIGHT / 2} x2={WIDTH} y2={HEIGHT / 2} />
        {panel.series.map((s, i) => (
          <path key={s.label} class={`line series-${i % COLOURS}`} d={linePath(s.points, box, yMax)} />
        ))}
      </svg>
      <div class="chart-axis muted">
        <span>
          max {formatMetric(yMax, panel.unit)} · −{formatWindow(box.end - box.start)}
        </span>
        <span>now</span>
      </div>
      {panel.series.length === 0 ? (
        <p class="muted" data-testid="metrics-no-data">
          No data in this window.
        </p>
      ) : (
        <ul class="legend">
          {current.map((c, i) => (
            <li key={c.label} data-testid="metrics-series">
              <span class={`swatch series-${i % COLOURS}`} aria-hidden="true" />
              {c.label}{' '}
              <strong data-testid="metrics-current">{c.last ? formatMetric(c.last.v, panel.unit) : '–'}</strong>
            </li>
          ))}
        </ul>
      )}
    </figure>
  );
}
