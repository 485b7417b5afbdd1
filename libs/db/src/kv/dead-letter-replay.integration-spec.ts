import { readStack } from '@keyflow/testing';
import { describeDeadLetterReplayContract } from './dead-letter-replay.contract';

describeDeadLetterReplayContract(() => readStack().db.write);
