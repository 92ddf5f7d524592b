import { ConsoleLogger, type LogLevel } from '@nestjs/common';

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const satisfies readonly LogLevel[];

export type LogFormat = 'text' | 'json';

/**
 * The one logger of the process: Nest's ConsoleLogger, one JSON object per line with
 * LOG_FORMAT=json. main.ts uses it too (start-up, listening, failures), so no line of a JSON
 * log is plain text.
 */
export function createAppLogger(format: LogFormat, level: (typeof LEVELS)[number] = 'log', quiet = false): ConsoleLogger {
  return new ConsoleLogger({ json: format === 'json', logLevels: quiet ? ['error'] : LEVELS.slice(0, LEVELS.indexOf(level) + 1) });
}

/**
 * The format to use before the configuration is known (it may be the configuration that is
 * wrong): LOG_FORMAT as given, text unless it says json.
 */
export function earlyLogFormat(env: Record<string, string | undefined>): LogFormat {
  return env['LOG_FORMAT']?.trim() === 'json' ? 'json' : 'text';
}

/**
 * Prints a secret a person must see once (the first admin's generated key) on stdout, never
 * through the logger, so no log record (and no log shipper reading records) ever holds it. With
 * JSON logs it is still one JSON object on its own line, but not a log record.
 */
export function printOnce(format: LogFormat, notice: string, secret: { name: string; value: string }, fields: Record<string, string> = {}): void {
  process.stdout.write(format === 'json' ? `${JSON.stringify({ notice, [secret.name]: secret.value, ...fields })}\n` : `${notice}: ${secret.value}\n`);
}
