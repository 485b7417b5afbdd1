import { readStack } from '@keyflow/testing';
import { describeUserRepositoryContract } from '../testing/user-repository.contract';

describeUserRepositoryContract(() => readStack().db.write);
