export * from './client';
export * from './problem';
export * from './retry';
export type { components, paths } from './generated/openapi.types';
