/** The exit codes of `appvault`, stable for scripts; `--help` and the README list them. */
export const ExitCode = {
  ok: 0,
  /** The job failed, the archive is invalid, or a download does not match its checksum. */
  failed: 1,
  /** A usage error: unknown command or option, a missing or bad value (also a 400 from the server). */
  usage: 2,
  /** The server knows no such app, backup, restore or link (404, 410). */
  notFound: 3,
  /** A conflict: the name is taken, a job is running, a limit is reached (409). */
  conflict: 4,
  /** The server refused the key or the caller may not do this (401, 403). */
  notAuthorized: 5,
  /** The server cannot be reached, or it failed (5xx). */
  unavailable: 6,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  the job failed, the archive is invalid, or a checksum does not match
  2  usage error (unknown option, missing or bad value)
  3  not found (404)
  4  conflict (409: name taken, job running, limit reached)
  5  not authorized (401/403)
  6  cannot reach the server, or a server error (5xx)
  128 + n  stopped by signal n: 130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP`;

export const EXIT_CODES_LINE = 'Exit codes: 0 ok, 1 job failed / archive invalid / checksum mismatch, 2 usage, 3 not found, 4 conflict, 5 not authorized, 6 server unreachable or failing.';

/** An error that ends the command: its message is for a person, its code for a script. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue,
    /** The HTTP status behind it, when the server answered. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }

  /** True when the command printed its result (the failed job) already, so --json gets no error document. */
  resultPrinted = false;

  reported(): this {
    this.resultPrinted = true;
    return this;
  }
}

export const usageError = (message: string) => new CliError(message, ExitCode.usage);
