import { readStack } from '@keyflow/testing';
import { describeTransactionContract } from './testing/transaction.contract';

describeTransactionContract(() => readStack().db.write);
