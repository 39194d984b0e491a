import { defineConfig } from 'vitest/config';

// The console is served by jeton at /console/ from its embedded copy of www/dist
// (console/console.go); www/placeholder stays untouched, so `git status` stays clean.
export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'www/dist',
    emptyOutDir: true,
    target: 'es2022',
    // No inline assets: the CSP allows files from 'self' only (img-src 'self', no data:).
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: true,
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  test: {
    environment: 'jsdom',
    include: ['test/*.test.ts', 'test/*.test.tsx'],
  },
});
