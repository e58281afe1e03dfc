import type { Platform } from '../../platform/platform.ts';

export function createOrdersService(_deps: { platform: Platform }) {
  return {};
}

export type OrdersService = ReturnType<typeof createOrdersService>;
