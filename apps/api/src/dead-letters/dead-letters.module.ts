import { Module } from '@nestjs/common';
import { API_CONFIG } from '../config/api.config';
import { DeadLettersController } from './dead-letters.controller';
import { KvRepository, OperationRepository } from '@keyflow/db';
import { DbReplayStore } from '@keyflow/dead-letters';
import {
  amqpDeadLetterQueueFactory,
  DEAD_LETTER_QUEUE_FACTORY,
  DeadLettersService,
  REPLAY_STORE,
} from './dead-letters.service';

@Module({
  controllers: [DeadLettersController],
  providers: [
    { provide: DEAD_LETTER_QUEUE_FACTORY, inject: [API_CONFIG], useFactory: amqpDeadLetterQueueFactory },
    {
      provide: REPLAY_STORE,
      inject: [KvRepository, OperationRepository],
      // Both read and write the primary (the write pool): a replay decision must see every write applied so far.
      useFactory: (kv: KvRepository, operations: OperationRepository) => new DbReplayStore(kv, operations),
    },
    DeadLettersService,
  ],
})
export class DeadLettersModule {}
