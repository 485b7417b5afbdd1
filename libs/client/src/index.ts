export * from './client';
export * from './problem';
export * from './retry';
export * from './sse';
export * from './watch';
export type { components, paths } from './generated/openapi.types';
