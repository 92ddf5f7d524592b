import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthedRequest } from './access.guard.js';

/** The caller, as resolved by AccessGuard. Only valid on routes that are not public. */
export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!principal) throw new Error('CurrentUser used on a route without authentication');
  return principal;
});

/** The app named by `:app`, as resolved by AccessGuard for AppAccess routes. */
export const CurrentApp = createParamDecorator((_: unknown, ctx: ExecutionContext) => {
  const app = ctx.switchToHttp().getRequest<AuthedRequest>().appAccess;
  if (!app) throw new Error('CurrentApp used on a route without AppAccess');
  return app;
});
