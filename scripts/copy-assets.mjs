// Part of `npm run build`: tsc emits only JavaScript, so the data files the code reads beside
// itself (the breached-password list) are copied into dist/ too.
import { cpSync } from 'node:fs';

cpSync('src', 'dist/src', { recursive: true, filter: (path) => !/\.(ts|mts|cts)$/.test(path) });
