import { type CanActivate, type ExecutionContext, ForbiddenException, Inject, Injectable, NotFoundException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ACCESS_KEY, type AccessRule } from './access.decorator.js';
import { APP_DIRECTORY, type AppAccessInfo, type AppDirectory, PRINCIPAL_RESOLVER, type PrincipalResolver } from './auth.ports.js';
import type { Principal } from './principal.js';

export interface AuthedRequest {
  headers: Record<string, string | string[] | undefined>;
  params: Record<string, string | undefined>;
  principal?: Principal;
  appAccess?: AppAccessInfo;
}

/**
 * One guard for every route: resolves the API key (401), then applies the route's access rule:
 * admin only, or a role on the app named in the path (404 for an unknown app, 403 for a caller
 * without the role). Routes without a rule are refused, so nothing is open by accident.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(PRINCIPAL_RESOLVER) private readonly principals: PrincipalResolver,
    @Inject(APP_DIRECTORY) private readonly apps: AppDirectory,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, [context.getHandler(), context.getClass()]);
    if (!rule) throw new ForbiddenException('This route declares no access rule and is closed');
    if (rule.kind === 'public') return true;

    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const header = request.headers['authorization'];
    const value = Array.isArray(header) ? header[0] : header;
    const match = value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
    if (!match) throw new UnauthorizedException('Send your API key as "Authorization: Bearer <apiKey>"');
    const principal = await this.principals.byApiKey(match[1]!);
    if (!principal) throw new UnauthorizedException('The API key is not valid');
    request.principal = principal;

    switch (rule.kind) {
      case 'authenticated':
        return true;
      case 'admin':
        if (!principal.admin) throw new ForbiddenException('Only administrators may do this');
        return true;
      case 'app': {
        const name = request.params['app'] ?? '';
        const app = await this.apps.findByName(name);
        if (!app) throw new NotFoundException(`App "${name}" does not exist`);
        request.appAccess = app;
        if (principal.admin) return true;
        const role = app.contributors.find((c) => c.userId === principal.userId)?.role;
        if (!role) throw new ForbiddenException(`You are not a contributor of app "${name}"`);
        if (!rule.roles.includes(role)) {
          throw new ForbiddenException(`This needs one of the roles ${rule.roles.join(', ')} on app "${name}"; you are ${role}`);
        }
        return true;
      }
    }
  }
}
