import { type DynamicModule, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Express } from 'express';
import { ADMIN_PAGE_DIR, adminPageRouter } from './admin-page.middleware.js';

const ADMIN_PAGE_OPTIONS = Symbol('ADMIN_PAGE_OPTIONS');

/**
 * Serves the admin web page (static files) at /admin. It adds no API route: the page signs in
 * with an API key and calls the documented API like any client.
 */
@Module({})
export class AdminPageModule implements OnModuleInit {
  constructor(
    private readonly host: HttpAdapterHost,
    @Inject(ADMIN_PAGE_OPTIONS) private readonly options: { dir: string },
  ) {}

  static forRoot(dir: string = ADMIN_PAGE_DIR): DynamicModule {
    return { module: AdminPageModule, providers: [{ provide: ADMIN_PAGE_OPTIONS, useValue: { dir } }] };
  }

  /** Runs after Nest registered its routes and before its not-found handler, so /admin reaches the router. */
  onModuleInit(): void {
    const express = this.host.httpAdapter.getInstance<Express>();
    express.use('/admin', adminPageRouter(this.options.dir));
  }
}
