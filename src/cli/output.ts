import cliProgress from 'cli-progress';
import { terminalJson, terminalLine } from './terminal-text.js';

/** How far something is; every field may be missing (an older server sends none of the job fields). */
export interface ProgressState {
  phase?: string | null;
  done?: number | null;
  total?: number | null;
  unit?: string | null;
  /** 0 to 100; taken from done/total when missing. */
  percent?: number | null;
  etaSeconds?: number | null;
}

export interface Progress {
  update(state: ProgressState): void;
  /** A line about the work (resuming, falling back to polling), shown without breaking the bar; escaped as Output's lines are. */
  note(line: string): void;
  stop(): void;
}

interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Short job ids in progress lines: `restore 3f2a9c1b…`. */
export const shortId = (id: string) => (id.length > 9 ? `${id.slice(0, 8)}…` : id);

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function percentOf(state: ProgressState): number | undefined {
  if (typeof state.percent === 'number' && Number.isFinite(state.percent)) return Math.min(100, Math.max(0, state.percent));
  if (typeof state.done === 'number' && typeof state.total === 'number' && state.total > 0) return Math.min(100, (state.done / state.total) * 100);
  return undefined;
}

function countsOf(state: ProgressState): string {
  if (typeof state.done !== 'number') return '';
  if (state.unit === 'bytes') return typeof state.total === 'number' && state.total > 0 ? `${formatBytes(state.done)}/${formatBytes(state.total)}` : formatBytes(state.done);
  const total = typeof state.total === 'number' && state.total > 0 ? `/${state.total}` : '';
  return `${state.done}${total}${state.unit ? ` ${state.unit}` : ''}`;
}

/**
 * What a command shows a person: its lines, each one line on the terminal. Text from a server or
 * an archive may stand in a line as it is; Output escapes every line (terminal-text.ts), so a
 * line break inside a value shows as `\n` and cannot start a line of its own.
 */
export type Lines = readonly string[];

/**
 * Where the CLI writes: results on stdout (one JSON document with --json, else lines for people),
 * everything else on stderr: progress bars on a terminal, one plain line per change otherwise.
 * Everything written goes through terminal-text.ts: no command writes to stdout or stderr itself.
 */
export class Output {
  private active = new Set<Progress>();

  constructor(
    readonly json: boolean,
    /** Bars when stderr is a terminal and --no-progress is not given; plain lines otherwise. */
    private readonly bars: boolean,
    private readonly stdout: Stream = process.stdout,
    private readonly stderr: Stream = process.stderr,
  ) {}

  static create(options: { json: boolean; progress: boolean }): Output {
    return new Output(options.json, options.progress && process.stderr.isTTY === true);
  }

  /** The command's final result: `value` as JSON with --json (exact, see terminalJson), `human` otherwise. */
  result(value: unknown, human: Lines | (() => Lines)): void {
    if (this.json) this.stdout.write(`${terminalJson(value)}\n`);
    else {
      const lines = typeof human === 'function' ? human() : human;
      if (lines.length > 0) this.stdout.write(`${lines.map(terminalLine).join('\n')}\n`);
    }
  }

  /** A message for the person (never on stdout, so --json stays one document). */
  note(line: string): void {
    this.stderr.write(`${terminalLine(line)}\n`);
  }

  /** Why the command failed, on stderr: `appvault: <message>` on one line. */
  error(message: string): void {
    this.note(`appvault: ${message}`);
  }

  /** `step`: plain lines for byte counts are written every `step` percent, not on every chunk. */
  progress(label: string, options: { step?: number } = {}): Progress {
    const shown = terminalLine(label);
    const progress = this.bars ? new BarProgress(shown, this.stderr) : new LineProgress(shown, this.stderr, options.step ?? 0);
    this.active.add(progress);
    const stop = progress.stop.bind(progress);
    progress.stop = () => {
      this.active.delete(progress);
      stop();
    };
    return progress;
  }

  /** Stops any bar still drawn (an error ends the command), so the error starts on a fresh line. */
  close(): void {
    for (const progress of [...this.active]) progress.stop();
  }
}

/** What a bar or a line says after its label: the phase and the counts, escaped (both come from the server). */
const detailOf = (state: ProgressState) => terminalLine([state.phase ?? '', countsOf(state)].filter(Boolean).join(' '));

class LineProgress implements Progress {
  private last = '';

  constructor(
    private readonly label: string,
    private readonly stderr: Stream,
    private readonly step: number,
  ) {}

  update(state: ProgressState): void {
    const percent = percentOf(state);
    const parts = detailOf(state);
    const line = `${this.label}: ${parts || 'working'}${percent !== undefined ? ` (${Math.floor(percent)}%)` : ''}`;
    // Byte counts change with every chunk: with a `step`, one line per `step` percent (and per phase).
    const key = this.step > 0 ? `${state.phase ?? ''}|${percent === undefined ? 0 : Math.floor(percent / this.step)}` : line;
    if (key === this.last) return;
    this.last = key;
    this.stderr.write(`${line}\n`);
  }

  note(line: string): void {
    this.stderr.write(`${this.label}: ${terminalLine(line)}\n`);
  }

  stop(): void {}
}

const SCALE = 1000;

class BarProgress implements Progress {
  private readonly bar: cliProgress.SingleBar;
  private readonly started = Date.now();
  private running = false;

  constructor(
    private readonly label: string,
    private readonly stderr: Stream,
  ) {
    this.bar = new cliProgress.SingleBar(
      {
        // The label is a payload value, not part of the format: braces in it stay text.
        format: '{label} [{bar}] {percentage}% | ETA {eta_text} | {detail}',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        barsize: 30,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(state: ProgressState): void {
    const percent = percentOf(state);
    const value = Math.round(((percent ?? 0) / 100) * SCALE);
    const payload = { label: this.label, detail: detailOf(state), eta_text: this.eta(state, percent) };
    if (!this.running) {
      this.bar.start(SCALE, value, payload);
      this.running = true;
    } else {
      this.bar.update(value, payload);
    }
  }

  note(line: string): void {
    if (this.running) {
      // Clear the bar's line, write the note, and let the next update draw the bar again.
      this.stderr.write(`\r\x1b[2K${this.label}: ${terminalLine(line)}\n`);
      this.bar.render();
    } else {
      this.stderr.write(`${this.label}: ${terminalLine(line)}\n`);
    }
  }

  stop(): void {
    if (this.running) this.bar.stop();
    this.running = false;
  }

  private eta(state: ProgressState, percent: number | undefined): string {
    if (typeof state.etaSeconds === 'number' && Number.isFinite(state.etaSeconds)) return formatSeconds(state.etaSeconds);
    if (percent === undefined || percent <= 0) return '-';
    if (percent >= 100) return '0s';
    const elapsed = (Date.now() - this.started) / 1000;
    return formatSeconds((elapsed * (100 - percent)) / percent);
  }
}

/** Columns padded to their widest cell, for lists on a terminal; cells are escaped first, so escapes count in the widths. */
export function table(header: string[], rows: string[][]): Lines {
  const all = [header, ...rows].map((row) => row.map(terminalLine));
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return all.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}
