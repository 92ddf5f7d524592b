/** Deeper JSON than this is refused before it is parsed: nothing AppVault writes nests beyond a few levels. */
export const MAX_JSON_DEPTH = 64;

export class JsonTooDeepError extends Error {
  constructor(readonly maxDepth: number) {
    super(`nests deeper than ${maxDepth} levels`);
    this.name = 'JsonTooDeepError';
  }
}

/**
 * The nesting depth of JSON text, counted in one pass over its characters without parsing it, so
 * a hostile document (a million nested arrays) is refused in linear time and constant memory
 * instead of exhausting the stack of whatever walks it later.
 */
export function assertJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): void {
  // Nesting needs an opening bracket per level: text with few of them (nearly all) needs no scan.
  if (countUpTo(text, '{', maxDepth + 1) + countUpTo(text, '[', maxDepth + 1) <= maxDepth) return;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \\ */) i += 1;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) throw new JsonTooDeepError(maxDepth);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth -= 1;
    }
  }
}

/** JSON.parse behind the depth check; both failures surface as one clear message. */
export function parseBoundedJson(text: string, maxDepth = MAX_JSON_DEPTH): { value: unknown } | { problem: string } {
  try {
    assertJsonDepth(text, maxDepth);
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    if (error instanceof JsonTooDeepError) return { problem: `it ${error.message}` };
    return { problem: 'it is not valid JSON' };
  }
}

/** How often `char` occurs in `text`, counting no further than `limit` (native searches, no per-character loop). */
function countUpTo(text: string, char: string, limit: number): number {
  let count = 0;
  for (let at = text.indexOf(char); at !== -1 && count < limit; at = text.indexOf(char, at + 1)) count += 1;
  return count;
}
