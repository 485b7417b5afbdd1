import { readStack } from '@keyflow/testing';
import { describeMigrationContract } from '../testing/migration.contract';

describeMigrationContract(() => readStack().db.write);
