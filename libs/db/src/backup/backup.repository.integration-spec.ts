import { readStack } from '@keyflow/testing';
import { describeBackupRepositoryContract } from '../testing/backup-repository.contract';

describeBackupRepositoryContract(() => readStack().db.write);
