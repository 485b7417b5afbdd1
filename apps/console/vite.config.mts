import { resolve } from 'node:path';
import { defineConfig } from 'vite';

const root = import.meta.dirname;
const repo = resolve(root, '../..');

/**
 * The console builds to static files only (`dist/apps/console`): index.html and content-hashed assets, which the
 * nginx gateways serve at `/`. No inline script or style anywhere, so the gateways' Content-Security-Policy can
 * forbid them.
 */
export default defineConfig({
  root,
  base: '/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: {
    alias: { '@keyflow/client': resolve(repo, 'libs/client/src/index.ts') },
  },
  build: {
    outDir: resolve(repo, 'dist/apps/console'),
    emptyOutDir: true,
    // The polyfill would be a script of its own; every browser the console targets preloads modules natively.
    modulePreload: { polyfill: false },
    // Never inline assets as data: URLs (the CSP allows data: for images only).
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    // `npx vite apps/console` in development: the API through the local stack's first gateway.
    proxy: {
      '/v1': { target: 'http://127.0.0.21:8080', changeOrigin: false },
    },
  },
});
