import { AppError } from '../../platform/errors.ts';
import type { AuthUser } from '../../platform/http/auth.ts';
import type { Platform } from '../../platform/platform.ts';

export function createIdentityService(_deps: { platform: Platform }) {
  return {
    async authenticate(_token: string): Promise<AuthUser> {
      throw new AppError('invalid_token', 'Token is not valid');
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
