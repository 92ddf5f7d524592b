import { Global, Injectable, Module } from '@nestjs/common';
import type { BackupHandler } from './backup-handler.port.js';

/** Domain modules register their BackupHandler here in onModuleInit; the core only iterates. */
@Injectable()
export class BackupHandlerRegistry {
  private readonly handlers: BackupHandler[] = [];

  register(handler: BackupHandler): void {
    if (this.handlers.some((h) => h.name === handler.name)) throw new Error(`Backup handler ${handler.name} registered twice`);
    this.handlers.push(handler);
  }

  get all(): readonly BackupHandler[] {
    return this.handlers;
  }
}

@Global()
@Module({ providers: [BackupHandlerRegistry], exports: [BackupHandlerRegistry] })
export class BackupHandlersModule {}
