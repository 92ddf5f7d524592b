import { readFileSync } from 'node:fs';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { describeApi } from './contract/openapi-document.js';

/**
 * The OpenAPI 3.1 document, made from the running application: every route Nest serves, with the
 * request bodies and query parameters of the very schemas the API validates with (zod, read by
 * @nestjs/swagger as Standard JSON Schema), completed by the contract (src/contract): each
 * route's summary, audience, answers and errors, and the schemas of the answers. A test checks
 * the contract and the served routes agree, and the suites check every real answer against it.
 */
export function buildOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('AppVault API')
    .setDescription(
      'Self-hosted, event-sourced app platform with backups you can trust. Every `/api/**` route needs `Authorization: Bearer <apiKey>` ' +
        'except download links (`/api/links/...`), whose signature is the permission. Lists page with `top` (1-1000, default 100) and `skip`; ' +
        'errors are `{ statusCode, error, message }`.',
    )
    .setVersion(version)
    .setOpenAPIVersion('3.1.0')
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An AppVault API key (`av_…`)' }, 'apiKey')
    .addSecurityRequirements('apiKey')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  describeApi(document);
  return document;
}

/** package.json's version; this file sits at the top of src/ and of dist/ alike. */
function productVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
  return manifest.version ?? '0.0.0';
}

/**
 * Serves the document at /api/openapi.json and a browsable page at /api/docs (Swagger UI from the
 * installed swagger-ui-dist, no CDN). Both are open: the document holds no data, only the API's shape.
 */
export function serveOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app, productVersion());
  SwaggerModule.setup('api/docs', app, document, {
    jsonDocumentUrl: 'api/openapi.json',
    raw: ['json'],
    customSiteTitle: 'AppVault API',
    swaggerOptions: { persistAuthorization: false, tryItOutEnabled: false },
  });
}
