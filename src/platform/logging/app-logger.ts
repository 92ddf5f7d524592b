import { inspect } from 'node:util';
import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { escapeControlCharacters, escapeJsonControls } from '../text/control-characters.js';

const LEVELS = ['error', 'warn', 'log', 'debug', 'verbose'] as const satisfies readonly LogLevel[];

export type LogFormat = 'text' | 'json';

/** Contexts of Nest's start-up lines (modules initialised, controllers and routes mapped). */
const WIRING_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/**
 * Nest's ConsoleLogger, made safe for text from elsewhere. Log lines quote request paths, names,
 * and error messages that may hold what an archive, an event or a request said; none of it may
 * start a line of its own (a forged `[Nest] … LOG` record) or reach a terminal as an escape
 * sequence. Every record goes through here (main.ts and server.ts install it for every Nest
 * `Logger`), so no call site has to remember:
 *
 * - text: the message, its context and parameters have their control characters written out
 *   (`\n`, `\x1b`, `\u202e`) before Nest adds its prefix and colours, which stay as they are; a
 *   stack trace keeps its line breaks, but every line after its first is indented, so none starts
 *   like a record.
 * - JSON: JSON already escapes C0 controls; DEL, C1 and the bidirectional controls, which
 *   JSON.stringify leaves raw, are written as `\uXXXX` too.
 */
class AppLogger extends ConsoleLogger {
  /**
   * Nest's own account of wiring the application (a line per module, controller and route, about a
   * hundred) is for whoever debugs that wiring: at debug level, so a start says in a few lines
   * where it listens and when it is ready.
   */
  override log(message: unknown, ...rest: unknown[]): void {
    const context = rest.at(-1);
    if (typeof context === 'string' && WIRING_CONTEXTS.has(context)) {
      super.debug(message, ...rest);
      return;
    }
    super.log(message, ...rest);
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    const resolved = this.resolveMessage(message);
    if (typeof resolved === 'string') return this.colorize(escapeControlCharacters(resolved), logLevel);
    if (resolved instanceof Error) return this.colorize(escapeControlCharacters(`${resolved.name}: ${resolved.message}`), logLevel);
    return escapeControlCharacters(inspect(resolved, { ...this.inspectOptions, colors: false, compact: true, breakLength: Infinity }));
  }

  protected override stringifyParams(params: Record<string, unknown>): string {
    return escapeControlCharacters(inspect(params, { ...this.inspectOptions, colors: false, compact: true, breakLength: Infinity }));
  }

  protected override formatContext(context: string): string {
    return super.formatContext(escapeControlCharacters(context));
  }

  protected override printStackTrace(stack: string): void {
    super.printStackTrace(typeof stack === 'string' ? indentedStack(stack) : stack);
  }

  protected override stringifyJsonLogObject(logObject: Record<string, unknown>): string {
    return escapeJsonControls(super.stringifyJsonLogObject(logObject));
  }
}

/** A stack trace on lines of its own, each escaped, each after the first indented (an error message may span lines). */
function indentedStack(stack: string): string {
  return stack
    .split('\n')
    .map((line, index) => {
      const escaped = escapeControlCharacters(line);
      return index === 0 || /^\s/.test(escaped) ? escaped : `    ${escaped}`;
    })
    .join('\n');
}

/**
 * The one logger of the process (see AppLogger), one JSON object per line with LOG_FORMAT=json.
 * main.ts uses it too (start-up, listening, failures), so no line of a JSON log is plain text.
 */
export function createAppLogger(format: LogFormat, level: (typeof LEVELS)[number] = 'log', quiet = false): ConsoleLogger {
  return new AppLogger({ json: format === 'json', logLevels: quiet ? ['error'] : LEVELS.slice(0, LEVELS.indexOf(level) + 1) });
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
