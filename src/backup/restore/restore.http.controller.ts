import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Body, Controller, Delete, HttpCode, Inject, Param, Post, Req, Res } from '@nestjs/common';
import busboy from 'busboy';
import type { Request, Response } from 'express';
import { RestoreBody, RestoreResumeBody, RestoreUploadFields as UploadFields } from '../../contract/restores.schemas.js';
import { APP_CONFIG, type AppConfig } from '../../config/app-config.js';
import { AdminOnly } from '../../auth/access.decorator.js';
import { CurrentUser } from '../../auth/current.decorators.js';
import type { Principal } from '../../auth/principal.js';
import { DomainError, invalid, tooLarge } from '../../platform/domain-errors.js';
import { parseWith } from '../../platform/http/validation.js';
import { JobEventStreams } from '../../jobs/job-event-streams.service.js';
import { JobRoutes } from '../../jobs/job-routes.js';
import { AdminJobsController } from '../../jobs/jobs.http.controller.js';
import { type RestoreJob, type RestoreView, toRestoreView } from './restore-job.js';
import { RestorePreflightService } from './restore-preflight.service.js';
import { type RestoreRequest, type RestoreSource, RestoresService } from './restores.service.js';
import { keysOf } from '../shared/request-keys.js';

@Controller('api/restore')
export class RestoreController extends AdminJobsController<RestoreJob, RestoreView>() {
  constructor(
    private readonly restores: RestoresService,
    streams: JobEventStreams,
    private readonly preflight: RestorePreflightService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super(new JobRoutes(restores.jobs, toRestoreView, streams));
  }

  @Post()
  @HttpCode(202)
  @AdminOnly()
  async start(@Req() req: Request, @Res({ passthrough: true }) res: Response, @CurrentUser() caller: Principal) {
    const type = req.headers['content-type'] ?? '';
    let request: RestoreRequest;
    let dryRun = false;
    if (type.startsWith('multipart/form-data')) {
      // Refused before the upload is read when a restore runs; a dry run (?dryRun=true) never waits for one.
      if (req.query['dryRun'] !== 'true') await this.restores.assertIdle();
      const upload = await this.receiveUpload(req);
      request = upload.request;
      dryRun = upload.dryRun || req.query['dryRun'] === 'true';
    } else {
      const body = parseWith(RestoreBody, req.body);
      const source: RestoreSource =
        body.url !== undefined
          ? { kind: 'url', url: body.url }
          : body.repository !== undefined
            ? { kind: 'repository', repository: body.repository, key: body.key! }
            : { kind: 'backup', backupId: body.backupId! };
      request = { source, name: body.name, untilEvent: body.untilEvent, until: body.until, keys: await keysOf(body) };
      dryRun = body.dryRun === true;
    }
    if (dryRun) {
      res.status(200);
      return this.preflight.check(request);
    }
    return toRestoreView(await this.restores.start(request, caller.userId));
  }

  /** Continues an Interrupted restore from its journal (202); the body may give the key of an encrypted archive it had not decrypted yet. */
  @Post(':id/resume')
  @HttpCode(202)
  @AdminOnly()
  async resume(@Param('id') id: string, @Body() body: unknown, @CurrentUser() caller: Principal) {
    const given = parseWith(RestoreResumeBody, body ?? {});
    return toRestoreView(await this.restores.resume(id, await keysOf(given), caller.userId));
  }

  /** Cancels an Interrupted restore: nothing of it remains (its app, files, users it created, name, archive). */
  @Delete(':id')
  @AdminOnly()
  async cancel(@Param('id') id: string, @CurrentUser() caller: Principal) {
    return toRestoreView(await this.restores.cancel(id, caller.userId));
  }

  /** Streams the `file` field to a temporary file (never into memory) and collects the text fields. */
  private async receiveUpload(req: Request): Promise<{ request: RestoreRequest; dryRun: boolean }> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (Number.isFinite(declared) && declared > this.config.maxRestoreBytes + 1024 * 1024) {
      throw tooLarge(`The upload is ${declared} bytes, more than the ${this.config.maxRestoreBytes} allowed (MAX_RESTORE_BYTES)`);
    }
    await mkdir(this.restores.tempDir, { recursive: true });
    const file = join(this.restores.tempDir, `upload-${randomUUID()}.zip`);
    const fields: Record<string, string> = {};
    let fileName: string | undefined;
    let files = 0;
    let writing: Promise<void> | undefined;
    const maxBytes = this.config.maxRestoreBytes;
    try {
      await new Promise<void>((resolve, reject) => {
        let parser: busboy.Busboy;
        try {
          parser = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fieldSize: 16 * 1024 } });
        } catch (error) {
          reject(invalid(`The multipart request is malformed: ${(error as Error).message}`));
          return;
        }
        parser.on('field', (name, value, info) => {
          // A cut value (a long identity file) would be a wrong key or name: refused, never used.
          if (info.valueTruncated) reject(invalid(`${name.slice(0, 40)}: is longer than the 16384 characters a field may have`));
          fields[name] = value;
        });
        parser.on('file', (name, stream, info) => {
          files += 1;
          if (name !== 'file' || files > 1) {
            stream.on('error', () => undefined);
            stream.resume();
            return;
          }
          fileName = info.filename || 'upload.zip';
          let bytes = 0;
          const limit = new Transform({
            transform(chunk: Buffer, _enc, callback) {
              bytes += chunk.length;
              if (bytes > maxBytes) callback(tooLarge(`The upload is larger than the ${maxBytes} bytes allowed (MAX_RESTORE_BYTES)`));
              else callback(null, chunk);
            },
          });
          writing = pipeline(stream, limit, createWriteStream(file, { mode: 0o600 }));
          writing.catch((error: unknown) => {
            req.unpipe(parser);
            reject(error);
          });
        });
        parser.on('filesLimit', () => reject(invalid('Send exactly one file, in the field "file"')));
        parser.once('error', (error: Error) => reject(invalid(`The multipart request is malformed: ${error.message}`)));
        parser.once('close', () => resolve());
        // A client that goes away mid-upload must not leave the request (and the temp file) hanging.
        req.once('aborted', () => reject(invalid('The upload was cut off before it completed')));
        req.once('error', (error: Error) => reject(invalid(`The upload failed: ${error.message}`)));
        req.pipe(parser);
      });
      await writing;
      if (!fileName || files !== 1) throw invalid('Send the backup archive in the multipart field "file" (exactly one file)');
      const parsed = parseWith(UploadFields, fields);
      return {
        request: {
          source: { kind: 'upload', file, fileName: fileName.replace(/[^\w.-]/g, '_').slice(0, 100) },
          name: parsed.name,
          untilEvent: parsed.untilEvent,
          until: parsed.until,
          keys: await keysOf(parsed),
        },
        dryRun: parsed.dryRun === 'true',
      };
    } catch (error) {
      await rm(file, { force: true });
      req.resume();
      if (error instanceof DomainError) throw error;
      throw error;
    }
  }
}
