/**
 * A Content-Disposition every client can parse and no file name can break: an ASCII-only quoted
 * fallback for old clients, and the exact name as RFC 8187 `filename*` for everyone else.
 * `attachment`, because serving uploaded HTML or SVG inline from the API's origin would let any
 * contributor run script in a reader's session.
 */
export function contentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_').trim() || 'file';
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
