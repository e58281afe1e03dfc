import type { Platform } from '../../platform/platform.ts';

export function createCartService(_deps: { platform: Platform }) {
  return {};
}

export type CartService = ReturnType<typeof createCartService>;
