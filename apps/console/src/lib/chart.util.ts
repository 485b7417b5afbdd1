/**
 * Small line charts drawn as SVG paths, for the cluster page's Prometheus panels: no charting library, no inline
 * styles (the CSP forbids them; colours come from classes in styles.css).
 */

export interface ChartPoint {
  /** Unix seconds. */
  t: number;
  v: number;
}

export interface ChartBox {
  width: number;
  height: number;
  /** The time range drawn, in unix seconds: the whole width. */
  start: number;
  end: number;
  /** Seconds between two points: a longer gap breaks the line instead of bridging it. */
  stepSeconds: number;
}

export type ChartUnit = 'req/s' | 'ratio' | 'seconds' | 'messages' | 'bytes' | 'instances';

/**
 * The top of the y axis: the largest value rounded up to 1, 2 or 5 times a power of ten, so the axis label is a
 * round number; at least `floor` (a panel of zeros still gets an axis), and a ratio never beyond 1.
 */
export function axisMax(values: number[], unit: ChartUnit): number {
  const max = Math.max(0, ...values);
  const floor = unit === 'ratio' ? 0.01 : unit === 'seconds' ? 0.01 : 1;
  if (max <= floor) return floor;
  const power = 10 ** Math.floor(Math.log10(max));
  const nice = [1, 2, 5, 10].map((m) => m * power).find((n) => n >= max) ?? 10 * power;
  return unit === 'ratio' ? Math.min(1, nice) : nice;
}

/**
 * The SVG path (`d`) of one series: x from time, y from value (0 at the bottom, `yMax` at the top), a new sub-path
 * wherever more than one step is missing, so a scrape gap or a restart shows as a gap.
 */
export function linePath(points: ChartPoint[], box: ChartBox, yMax: number): string {
  const span = Math.max(1, box.end - box.start);
  const x = (t: number) => ((t - box.start) / span) * box.width;
  const y = (v: number) => box.height - (Math.min(Math.max(v, 0), yMax) / yMax) * box.height;
  const round = (n: number) => Math.round(n * 10) / 10;
  let d = '';
  let last: number | undefined;
  for (const p of points) {
    const command = last === undefined || p.t - last > box.stepSeconds * 1.5 ? 'M' : 'L';
    d += `${d ? ' ' : ''}${command}${round(x(p.t))},${round(y(p.v))}`;
    last = p.t;
  }
  return d;
}

/** A value in its unit, as a person reads it: `12.3 req/s`, `1.2 %`, `340 ms`, `1.50 s`, `16 KiB`, `42`. */
export function formatMetric(value: number, unit: ChartUnit): string {
  switch (unit) {
    case 'req/s':
      return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} req/s`;
    case 'ratio':
      return `${(value * 100).toFixed(value * 100 >= 10 ? 0 : 1)} %`;
    case 'seconds':
      return value < 1 ? `${(value * 1000).toFixed(value < 0.01 ? 1 : 0)} ms` : `${value.toFixed(2)} s`;
    case 'bytes':
      return formatBytes(value);
    case 'messages':
    case 'instances':
      return Number.isInteger(value) ? String(value) : value.toFixed(1);
  }
}

function formatBytes(value: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let n = value;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 || n >= 10 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

/** The window as people say it: `15 min`, `1 h`, `6 h`. */
export function formatWindow(seconds: number): string {
  return seconds < 3600 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}
