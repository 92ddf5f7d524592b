import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, type DomainErrorKind } from './platform/domain-errors.js';
import { NameUnavailableError, ReservationLostError } from './infrastructure/name-index/name-index.port.js';

const STATUS: Record<DomainErrorKind, HttpStatus> = {
  invalid: HttpStatus.BAD_REQUEST,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  'not-found': HttpStatus.NOT_FOUND,
  gone: HttpStatus.GONE,
  conflict: HttpStatus.CONFLICT,
  'too-large': HttpStatus.PAYLOAD_TOO_LARGE,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

const REASON: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  410: 'Gone',
  409: 'Conflict',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Answers every error in Nest's shape `{ statusCode, error, message }`; internals never leak. */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const { status, message } = this.describe(exception);
    if (response.headersSent) {
      // A streamed download failed midway: the only honest signal left is a cut connection.
      response.destroy();
      return;
    }
    response.status(status).json({ statusCode: status, error: REASON[status] ?? 'Error', message });
  }

  private describe(exception: unknown): { status: number; message: string } {
    if (exception instanceof DomainError) return { status: STATUS[exception.kind], message: exception.message };
    if (exception instanceof NameUnavailableError) return { status: HttpStatus.CONFLICT, message: exception.message };
    if (exception instanceof ReservationLostError) return { status: HttpStatus.CONFLICT, message: `${exception.message}; try again` };
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      return { status: exception.getStatus(), message: Array.isArray(message) ? message.join('; ') : String(message ?? exception.message) };
    }
    if (exception instanceof Error) this.logger.error(`Unexpected error: ${exception.message}`, exception.stack);
    else this.logger.error(`Unexpected error: ${String(exception)}`);
    return { status: 500, message: 'Internal error; the server log has the details' };
  }
}
