import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ACCESS_KEY, type AccessRule } from './access.decorator.js';
import { StartupService } from '../platform/startup/startup.service.js';

/** How long a request that arrives during start-up waits for it before it is answered 503. */
export const STARTUP_WAIT_MS = 30_000;

/**
 * Holds requests that arrive while the server starts (read models catching up, the first admin
 * not yet there) until it is ready, instead of answering from half-built read models. Open routes
 * (health) answer at once.
 */
@Injectable()
export class StartupGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly startup: StartupService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, [context.getHandler(), context.getClass()]);
    if (rule?.kind !== 'public') await this.startup.whenReady(STARTUP_WAIT_MS);
    return true;
  }
}
