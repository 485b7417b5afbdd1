import {
  METRICS_POINTS,
  METRICS_WINDOW_SECONDS,
  type MetricsPanelDefinition,
  type MetricsWindow,
} from './admin-metrics.constant';

/** What `query_range` is asked: unix seconds, the step between points, and the window each rate averages over. */
export interface MetricsRange {
  start: number;
  end: number;
  stepSeconds: number;
  rateWindow: string;
}

export interface MetricsPoint {
  /** Unix time, in seconds. */
  t: number;
  v: number;
}

export interface MetricsSeries {
  label: string;
  points: MetricsPoint[];
}

/** One series of Prometheus's `matrix` answer: its labels and `[unixSeconds, "value"]` samples. */
export interface PrometheusMatrixSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/**
 * The range for `window` ending at `nowMs`: `METRICS_POINTS` points, the end aligned to the step so that two calls in
 * the same step ask Prometheus the same question (and consecutive answers share their points). Rates average over at
 * least a minute (four scrapes at the production interval of 15 s), and over the whole step when it is longer.
 */
export function metricsRange(window: MetricsWindow, nowMs: number): MetricsRange {
  const seconds = METRICS_WINDOW_SECONDS[window];
  const stepSeconds = seconds / METRICS_POINTS;
  const end = Math.floor(nowMs / 1000 / stepSeconds) * stepSeconds;
  return { start: end - seconds, end, stepSeconds, rateWindow: `${Math.max(60, stepSeconds)}s` };
}

/**
 * A panel's series from Prometheus's matrix: named by the panel's label (or its one fixed name), sorted by name,
 * without the points Prometheus gives as NaN or ±Inf (a ratio of no requests, a quantile of no observations), which
 * a chart cannot draw.
 */
export function panelSeries(panel: MetricsPanelDefinition, result: PrometheusMatrixSeries[]): MetricsSeries[] {
  return result
    .map((s) => ({
      label: panel.series ?? (panel.seriesLabel ? (s.metric[panel.seriesLabel] ?? '(none)') : '(none)'),
      points: s.values
        .map(([t, v]) => ({ t: Number(t), v: Number(v) }))
        .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v)),
    }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** Checks the shape of a `query_range` body: `data.result` is a list of `{ metric, values }`; throws if not. */
export function matrixOf(body: unknown): PrometheusMatrixSeries[] {
  const data = (body as { status?: unknown; data?: { resultType?: unknown; result?: unknown } } | null)?.data;
  if (data?.resultType !== 'matrix' || !Array.isArray(data.result)) {
    throw new Error('Prometheus answered something other than a matrix');
  }
  return data.result.map((s: unknown) => {
    const { metric, values } = (s ?? {}) as { metric?: unknown; values?: unknown };
    if (typeof metric !== 'object' || metric === null || !Array.isArray(values)) {
      throw new Error('Prometheus answered a series without metric or values');
    }
    return { metric: metric as Record<string, string>, values: values as Array<[number, string]> };
  });
}
