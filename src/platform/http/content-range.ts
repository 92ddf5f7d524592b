/** A 206 answer's `Content-Range: bytes 100-199/200`: its first byte and the whole size (null for `*`); undefined when it says otherwise. */
export function contentRange(header: string | null | undefined): { start: number; total: number | null } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header?.trim() ?? '');
  return match ? { start: Number(match[1]), total: match[3] === '*' ? null : Number(match[3]) } : undefined;
}
