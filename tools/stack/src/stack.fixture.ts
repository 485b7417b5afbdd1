import { loadTopology, type Topology } from '@keyflow/topology';
import { join } from 'node:path';
import { stackLayout, type StackLayout } from './stack-layout.util';

/** The real test topology (vitest runs from the repository root), laid out under a fake repository root. */
export function testTopology(): { topology: Topology; layout: StackLayout } {
  const file = join(process.cwd(), 'deploy/topologies/test.yaml');
  const topology = loadTopology(file);
  return { topology, layout: stackLayout('/repo', file, topology.stackDir) };
}
