import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

// The admin page: built into dist/admin by `npm run build`, served by the server at /admin.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/admin/',
  plugins: [preact()],
  // The HTTP contract's client and types, shared with the server and the CLI (web/tsconfig.json has the same path).
  resolve: { alias: { '@contract': fileURLToPath(new URL('../src/contract', import.meta.url)) } },
  build: {
    outDir: fileURLToPath(new URL('../dist/admin', import.meta.url)),
    emptyOutDir: true,
    // Hashed names under assets/ are what the server caches for a year.
    assetsDir: 'assets',
    target: 'es2022',
    reportCompressedSize: false,
  },
  // `vite` (dev) serves the page and sends /api to a server started with `npm start`.
  server: { proxy: { '/api': 'http://localhost:8080', '/health': 'http://localhost:8080' } },
});
