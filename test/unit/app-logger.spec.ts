import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAppLogger } from '../../src/platform/logging/app-logger.js';

/** What a hostile archive, event or request could try: end the line and write a record that looks like the server's own. */
const FORGED = '\n[Nest] 123  - 01/01/2026, 1:00:00 AM     LOG [RestoresService] Restore 42 completed';
const HOSTILE = `Type\u001b]0;owned\u0007\u001b[2J\u009b31m\u202eevil\r${FORGED}`;
/** The colours Nest adds of its own: SGR sequences, ESC [ digits m. */
const NEST_COLOURS = /\u001b\[\d+(;\d+)*m/g;
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

describe('the app logger', () => {
  let written: string[];
  beforeEach(() => {
    written = [];
    const capture = (chunk: string | Uint8Array) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    Logger.overrideLogger(false);
  });

  const output = () => written.join('');
  const lines = () => output().split('\n').filter((line) => line !== '');

  it('in text: escapes control characters in messages, contexts, errors and stacks, and keeps its own colours', () => {
    const app = createAppLogger('text', 'log');
    Logger.overrideLogger(app);
    const logger = new Logger('RestoresService');
    logger.log(`Restore 7 failed: Event 2 (${HOSTILE}) is refused`);
    app.warn('from a context', `Ctx${FORGED}`);
    const error = new Error(`boom ${HOSTILE}`);
    logger.error(`Unexpected error: ${error.message}`, error.stack);
    logger.log({ type: HOSTILE });

    for (const line of lines()) {
      expect(line, line).not.toMatch(/^\[Nest\] 123 /);
      expect(line.replace(NEST_COLOURS, ''), line).not.toMatch(RAW_CONTROLS);
      expect(line.replace(NEST_COLOURS, ''), line).not.toContain('\u001b');
    }
    const text = output().replace(NEST_COLOURS, '');
    expect(text).toContain('Event 2 (Type\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202eevil\\r\\n[Nest] 123  - 01/01/2026');
    expect(text).toContain('[Ctx\\n[Nest] 123');
    // The stack keeps its lines, each indented under the record, so the message inside it cannot pass for a record.
    const stack = lines().filter((line) => line.startsWith(' ') || line.startsWith('Error:'));
    expect(stack[0]).toMatch(/^Error: boom Type\\x1b/);
    expect(stack.some((line) => line.startsWith('    [Nest] 123  - 01/01/2026'))).toBe(true);
    expect(stack.some((line) => /^ +at /.test(line))).toBe(true);
    // Records are still Nest's: its prefix and, unless NO_COLOR, its colours.
    expect(lines().filter((line) => line.replace(NEST_COLOURS, '').startsWith(`[Nest] ${process.pid}`))).toHaveLength(4);
    if (!process.env['NO_COLOR']) expect(output()).toMatch(NEST_COLOURS);
  });

  it('in JSON: one object per record, the text exact once parsed, and no raw C1 or bidirectional control', () => {
    Logger.overrideLogger(createAppLogger('json', 'log'));
    const logger = new Logger('RestoresService');
    logger.log(`Restore 7 failed: ${HOSTILE}`);
    logger.error(`Unexpected error: ${HOSTILE}`, new Error(HOSTILE).stack);
    expect(lines()).toHaveLength(2);
    for (const line of lines()) expect(line).not.toMatch(RAW_CONTROLS);
    const records = lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records[0]).toMatchObject({ level: 'log', context: 'RestoresService', message: `Restore 7 failed: ${HOSTILE}` });
    expect(records[1]).toMatchObject({ level: 'error', message: `Unexpected error: ${HOSTILE}` });
    expect(String(records[1]!['stack'])).toContain(HOSTILE);
  });
});
