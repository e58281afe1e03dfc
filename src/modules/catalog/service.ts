import type { Platform } from '../../platform/platform.ts';

export function createCatalogService(_deps: { platform: Platform }) {
  return {};
}

export type CatalogService = ReturnType<typeof createCatalogService>;
