import swc from 'unplugin-swc';
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

// SWC keeps NestJS's decorator metadata, which esbuild drops.
const shared = {
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: {
    alias: {
      '@keyflow/cache': resolve(__dirname, 'libs/cache/src/index.ts'),
      // Before '@keyflow/client', which would otherwise take it as a path below its own entry.
      '@keyflow/client/node': resolve(__dirname, 'libs/client/src/node.ts'),
      '@keyflow/client': resolve(__dirname, 'libs/client/src/index.ts'),
      '@keyflow/contracts': resolve(__dirname, 'libs/contracts/src/index.ts'),
      '@keyflow/db': resolve(__dirname, 'libs/db/src/index.ts'),
      // Before '@keyflow/dead-letters', which would otherwise take it as a path below its own entry.
      '@keyflow/dead-letters/testing': resolve(__dirname, 'libs/dead-letters/src/testing/index.ts'),
      '@keyflow/dead-letters': resolve(__dirname, 'libs/dead-letters/src/index.ts'),
      '@keyflow/messaging': resolve(__dirname, 'libs/messaging/src/index.ts'),
      // Before '@keyflow/runtime', which would otherwise take it as a path below its own entry.
      '@keyflow/runtime/testing': resolve(__dirname, 'libs/runtime/src/testing/index.ts'),
      '@keyflow/runtime': resolve(__dirname, 'libs/runtime/src/index.ts'),
      '@keyflow/session': resolve(__dirname, 'libs/session/src/index.ts'),
      '@keyflow/testing': resolve(__dirname, 'libs/testing/src/index.ts'),
      '@keyflow/topology': resolve(__dirname, 'libs/topology/src/index.ts'),
    },
  },
};

export default defineConfig({
  test: {
    // Stack tests share one running stack and some kill its processes: one file at a time.
    fileParallelism: false,
    projects: [
      {
        ...shared,
        test: { name: 'unit', include: ['{apps,libs,tools,load-tests}/**/*.spec.ts'], environment: 'node' },
      },
      {
        ...shared,
        test: {
          name: 'integration',
          include: ['{apps,libs,tools}/**/*.integration-spec.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // lint, typecheck and prettier --check, counted in the summary like every test (tools/ci).
        test: { name: 'checks', include: ['tools/ci/**/*.check-spec.ts'], environment: 'node', testTimeout: 600_000 },
      },
      {
        ...shared,
        test: {
          name: 'e2e',
          include: ['{apps,libs,tools}/**/*.e2e-spec.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
