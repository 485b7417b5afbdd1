import { readStack } from '@keyflow/testing';
import { describeKvRepositoryContract } from '../testing/kv-repository.contract';

describeKvRepositoryContract(() => readStack().db.write);
