import { Injectable, Logger } from '@nestjs/common';
import { KvCache } from '@keyflow/cache';
import { backupLineText, DomainError, ErrorCode, parseBackupLine } from '@keyflow/contracts';
import { BackupRepository, type BackupRow, type RestoreLine } from '@keyflow/db';
import type { RestoreResponseDto } from './dto/backup.dto';

/** An open backup: what the snapshot holds, and its lines (NDJSON text, a page at a time) to stream. */
export interface OpenBackup {
  takenAt: string;
  keys: number;
  /** Ends the snapshot transaction when it is done or abandoned (`return()` from a closed stream). */
  lines: AsyncGenerator<string>;
  /**
   * For the stream's `close`: ends the snapshot if `lines` was never read. An async generator that never started
   * runs no `finally` when it is returned, so a client gone before the first page would otherwise leave the
   * transaction open and its connection taken. Once `lines` started, its own `finally` ends the snapshot.
   */
  abandon(): void;
}

/**
 * Backup and restore of every live key, for operators (`keyflow export` / `keyflow import`). Both go straight to the
 * primary: a backup reads one snapshot, a restore inserts entries with their versions where keys do not exist and
 * then updates the cache as a worker does after a commit (version-guarded, so it never takes a key back).
 */
@Injectable()
export class BackupService {
  private readonly logger = new Logger(BackupService.name);

  constructor(
    private readonly backups: BackupRepository,
    private readonly cache: KvCache,
  ) {}

  async open(prefix?: string): Promise<OpenBackup> {
    const snapshot = await this.backups.openSnapshot(prefix !== undefined ? { prefix } : {});
    let started = false;
    async function* lines(): AsyncGenerator<string> {
      started = true;
      try {
        for await (const page of snapshot.rows()) yield page.map((row) => `${backupLineText(row)}\n`).join('');
      } finally {
        await snapshot.close();
      }
    }
    return {
      takenAt: snapshot.takenAt,
      keys: snapshot.keys,
      lines: lines(),
      abandon: () => {
        if (!started) void snapshot.close();
      },
    };
  }

  /**
   * Restores one request's lines. All or nothing for the request: every line is checked first (the first bad one is
   * named by its number in the body), and the inserts are one transaction. Lines whose `expiresAt` has passed are
   * skipped. `now` is a parameter for tests.
   */
  async restore(body: string, now = Date.now()): Promise<RestoreResponseDto> {
    const texts = body.split('\n');
    if (texts.at(-1) === '') texts.pop();
    if (texts.length === 0) throw new DomainError(ErrorCode.INVALID_REQUEST, 'the body holds no line to restore');
    const lines: RestoreLine[] = [];
    const lineOfKey = new Map<string, number>();
    let expired = 0;
    texts.forEach((raw, i) => {
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      const parsed = parseBackupLine(text);
      if ('problem' in parsed) throw new DomainError(ErrorCode.INVALID_REQUEST, `line ${i + 1}: ${parsed.problem}`);
      const { key, expiresAt } = parsed.entry;
      const earlier = lineOfKey.get(key);
      if (earlier !== undefined) {
        throw new DomainError(
          ErrorCode.INVALID_REQUEST,
          `line ${i + 1}: the key ${JSON.stringify(key)} is already on line ${earlier}`,
        );
      }
      lineOfKey.set(key, i + 1);
      if (expiresAt !== undefined && Date.parse(expiresAt) <= now) expired++;
      else lines.push({ key, text });
    });
    const restored = await this.backups.restore(lines);
    await this.refreshCache(restored);
    return {
      received: texts.length,
      restored: restored.length,
      existing: lines.length - restored.length,
      expired,
    };
  }

  /**
   * The cache learns the restored versions as it learns a worker's commits: version-guarded (a newer version, which
   * a worker may already have written, is kept) and raising the floor, so a lagging replica cannot be cached over
   * them; it also replaces a "missing" entry cached while the key did not exist. The keys are committed already, so
   * a cache failure does not fail the restore: such an entry is at worst a cached miss for a few seconds.
   */
  private async refreshCache(rows: BackupRow[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.cache.commit(
        rows.map((row) => ({
          key: row.key,
          entry: {
            state: 'present',
            version: row.version,
            valueJson: row.valueJson,
            updatedAt: row.updatedAt,
            // A restored key with a time to live must read as absent from its expiresAt on, from the cache too.
            ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
          },
        })),
      );
    } catch (err) {
      this.logger.warn({ err, keys: rows.length }, 'restored keys could not be cached; reads fill them');
    }
  }
}
