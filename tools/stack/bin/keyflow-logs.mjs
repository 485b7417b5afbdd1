#!/usr/bin/env node
// `npm run logs -- [--follow] [--service NAME] [--request ID] [--stack-dir DIR]`: every log of a stack merged in time
// order, one line each: `<ISO time> <service> <the line as logged>`. Reads `<stackDir>/logs/*.log` (each process's
// output; the apps log JSON lines with `time`, and `reqId` for what the API logs while handling a request) and the
// gateways' JSON access logs (`<stackDir>/run/nginx-*-access.log`, with `ts` and `requestId`). `--request` keeps the
// lines of one request id, as nginx answers it in X-Request-Id: the gateway's access line, the API's lines (`reqId`)
// and the worker's line for each write the request made (`requestId`, carried in the write message); `--follow` keeps
// printing what is appended.
// Plain Node (no build), like the other entry points in this directory.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** The time (ms since the epoch) and request id of one log line; `undefined` fields when it does not say. */
export function parseLogLine(line) {
  if (!line.startsWith('{')) return { time: textTime(line), requestId: undefined };
  try {
    const entry = JSON.parse(line);
    let time;
    if (typeof entry.ts === 'number') time = Math.round(entry.ts * 1000);
    else if (typeof entry.time === 'number') time = entry.time;
    else if (typeof entry.time === 'string' && !Number.isNaN(Date.parse(entry.time))) time = Date.parse(entry.time);
    const requestId = entry.requestId ?? entry.reqId ?? entry.req?.id;
    return { time, requestId: typeof requestId === 'string' ? requestId : undefined, service: entry.service };
  } catch {
    return { time: undefined, requestId: undefined };
  }
}

/**
 * The time a server's own text format starts its line with, read as UTC: `2026-12-01 17:17:26,976` (Patroni,
 * supervisord), `2026-12-01 17:17:26.976…` (RabbitMQ), `ts=2026-12-01T17:11:53.493Z` (Prometheus and its exporters),
 * `… 01 Dec 2026 17:17:26.976` (Redis).
 */
function textTime(line) {
  const iso = /(?:^|ts=)(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?/.exec(line);
  if (iso) return Date.parse(`${iso[1]}T${iso[2]}.${(iso[3] ?? '0').padEnd(3, '0').slice(0, 3)}Z`);
  const redis = /^\d+:[A-Z] (\d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2})\.(\d{3})/.exec(line);
  if (redis) {
    const t = Date.parse(`${redis[1]} UTC`);
    return Number.isNaN(t) ? undefined : t + Number(redis[2]);
  }
  return undefined;
}

/**
 * Lines of one source with a time each: a line that carries none (a stack trace, a server's own format) takes the
 * time of the line before it, so it stays next to it in the merge.
 */
export function timedLines(service, text, startTime = 0) {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  // Lines before the first one with a time (a warning at start-up) take that first time.
  let last = startTime || (lines.map((l) => parseLogLine(l).time).find((t) => t !== undefined) ?? 0);
  return lines.map((line, order) => {
    const parsed = parseLogLine(line);
    if (parsed.time !== undefined) last = parsed.time;
    return { time: last, order, service: parsed.service ?? service, requestId: parsed.requestId, line };
  });
}

/** Every line of every source in time order (stable: equal times keep each file's order), filtered. */
export function mergeLogs(sources, { service, request } = {}) {
  return sources
    .flatMap((s, i) => timedLines(s.service, s.text, s.startTime).map((l) => ({ ...l, source: i })))
    .filter((l) => (service ? l.service === service || l.service.startsWith(`${service}-`) : true))
    .filter((l) => (request ? l.requestId === request || l.line.includes(request) : true))
    .sort((a, b) => a.time - b.time || a.source - b.source || a.order - b.order);
}

export function formatLine(l) {
  return `${new Date(l.time).toISOString()} ${l.service.padEnd(18)} ${l.line}`;
}

function logFiles(stackDir) {
  const logs = join(stackDir, 'logs');
  const run = join(stackDir, 'run');
  const files = existsSync(logs)
    ? readdirSync(logs)
        .filter((f) => f.endsWith('.log') && f !== 'build.log')
        .map((f) => ({ file: join(logs, f), service: basename(f, '.log') }))
    : [];
  if (existsSync(run)) {
    for (const f of readdirSync(run).filter((x) => /^nginx.*-access\.log$/.test(x))) {
      files.push({ file: join(run, f), service: basename(f, '-access.log') });
    }
  }
  return files;
}

function readFrom(file, offset) {
  const size = statSync(file).size;
  if (size <= offset) return { text: '', offset: size };
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - offset);
    readSync(fd, buffer, 0, buffer.length, offset);
    const text = buffer.toString('utf8');
    // Keep a partial last line for the next read.
    const end = text.lastIndexOf('\n') + 1;
    return { text: text.slice(0, end), offset: offset + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    closeSync(fd);
  }
}

function stackDirOf(values) {
  if (values['stack-dir']) return values['stack-dir'];
  const stackFile = process.env.KEYFLOW_STACK_FILE || join(REPO_ROOT, '.keyflow', 'stack.json');
  if (existsSync(stackFile)) return JSON.parse(readFileSync(stackFile, 'utf8')).stackDir;
  return join(REPO_ROOT, '.keyflow');
}

async function main() {
  const { values } = parseArgs({
    options: {
      follow: { type: 'boolean', short: 'f' },
      service: { type: 'string' },
      request: { type: 'string' },
      'stack-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log('Usage: npm run logs -- [--follow] [--service NAME] [--request ID] [--stack-dir DIR]');
    return 0;
  }
  const stackDir = stackDirOf(values);
  const files = logFiles(stackDir);
  if (!files.length) {
    console.error(`no logs in ${stackDir}/logs: is a stack there? (npm start, or --stack-dir)`);
    return 1;
  }
  const filter = { service: values.service, request: values.request };
  const offsets = new Map();
  const lastTimes = new Map();
  const readAll = () => {
    const sources = [];
    for (const { file, service } of logFiles(stackDir)) {
      const { text, offset } = readFrom(file, offsets.get(file) ?? 0);
      offsets.set(file, offset);
      if (text) sources.push({ service, text, startTime: lastTimes.get(file) ?? 0, file });
    }
    const merged = mergeLogs(sources, filter);
    for (const s of sources) {
      const lines = timedLines(s.service, s.text, s.startTime);
      if (lines.length) lastTimes.set(s.file, lines[lines.length - 1].time);
    }
    for (const l of merged) process.stdout.write(`${formatLine(l)}\n`);
  };
  readAll();
  if (!values.follow) return 0;
  await new Promise(() => setInterval(readAll, 500));
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
