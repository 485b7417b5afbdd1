import { Module } from '@nestjs/common';
import type { Pool } from 'pg';
import { BackupRepository } from '@keyflow/db';
import { WRITE_POOL } from '@keyflow/runtime';
import { BackupController } from './backup.controller';
import { BackupService } from './backup.service';

/**
 * Backup and restore over HTTP, for admins: `GET /v1/backup`, `POST /v1/backup/restore`. In the API rather than in
 * the CLI so that a backup works wherever the API runs (local, Compose, Kubernetes) without the operator reaching
 * the database; see `tools/cli/README.md` for the choice.
 */
@Module({
  controllers: [BackupController],
  providers: [
    BackupService,
    // The primary: a snapshot of a replica could miss writes already acknowledged as applied.
    { provide: BackupRepository, inject: [WRITE_POOL], useFactory: (pool: Pool) => new BackupRepository(pool) },
  ],
})
export class BackupModule {}
