/**
 * Module boundaries, enforced by the lint (STYLE.md, ARCHITECTURE.md "Modules"): a module imports
 * another only through its public entry, `service.ts` (the factory and its types; its instance
 * arrives as an argument); the entry points (src/*.ts) reach a module through `service.ts`, and
 * app.ts also through `routes.ts`; platform imports nothing from modules nor from the entry points.
 * One `no-restricted-imports` block per directory (flat config replaces, not merges, a rule's
 * options, and the globs do not overlap). test/platform/module-boundaries.test.ts proves each rule refuses.
 */
import { readdirSync } from 'node:fs';

const MODULES = readdirSync(new URL('./src/modules/', import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

const refuse = (regex, message) => ({ regex, message });

const crossModule = (name) =>
  refuse(
    `^(\\.\\./)+(?!${name}/)(${MODULES.join('|')})/(?!service\\.ts$).+`,
    'A module reaches another only through its service.ts (types and factory; the instance is handed in as an argument).',
  );
const entryPoints = refuse('^(\\.\\./)+(app|services|jobs|server|worker|startup)\\.ts$', 'Modules do not import the entry points or the composition root.');

// Tests beside a module may start the app's jobs or start-up tasks as a user's process would; they
// still meet other modules only through their services.
const intoModule = (name) => [
  {
    files: [`src/modules/${name}/**/*.ts`],
    ignores: ['**/*.test.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [crossModule(name), entryPoints] }] },
  },
  {
    files: [`src/modules/${name}/**/*.test.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: [crossModule(name)] }] },
  },
];

export const moduleBoundaries = [
  ...MODULES.flatMap(intoModule),
  {
    files: ['src/platform/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            refuse('(^|/)modules/', 'platform/ has no business rules: it imports nothing from modules/.'),
            refuse('^(\\.\\./)+(app|services|jobs|server|worker|startup)\\.ts$', 'platform/ does not import the entry points or the composition root.'),
          ],
        },
      ],
    },
  },
  {
    files: ['src/*.ts'],
    ignores: ['src/app.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [refuse('^\\./modules/[^/]+/(?!service\\.ts$).+', 'Entry points reach a module through its service.ts.')] },
      ],
    },
  },
  {
    files: ['src/app.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [refuse('^\\./modules/[^/]+/(?!service\\.ts$|routes\\.ts$).+', 'app.ts reaches a module through its routes.ts and service.ts.')] },
      ],
    },
  },
];
