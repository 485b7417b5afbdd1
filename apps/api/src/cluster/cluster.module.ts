import { Module } from '@nestjs/common';
import { loadTopology } from '@keyflow/topology';
import { API_CONFIG, type ApiConfig } from '../config/api.config';
import { ClusterController } from './cluster.controller';
import { CLUSTER_TOPOLOGY, ClusterService } from './cluster.service';

@Module({
  controllers: [ClusterController],
  providers: [
    {
      provide: CLUSTER_TOPOLOGY,
      inject: [API_CONFIG],
      // Read once at boot: a topology file that is missing or invalid stops the API with every bad field listed.
      useFactory: (config: ApiConfig) => (config.CLUSTER_TOPOLOGY ? loadTopology(config.CLUSTER_TOPOLOGY) : null),
    },
    ClusterService,
  ],
})
export class ClusterModule {}
