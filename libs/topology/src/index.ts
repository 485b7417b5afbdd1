export * from './topology.schema';
export * from './topology.loader';
