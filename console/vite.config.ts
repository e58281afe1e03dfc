import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Served by the API at /admin/ (src/platform/http/console.ts); the build is committed (README).
export default defineConfig({
  base: '/admin/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One file per chunk, named by content hash: the same sources give the same bytes (CI checks).
    sourcemap: false,
    chunkSizeWarningLimit: 4000,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8000' } },
});
