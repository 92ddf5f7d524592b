import { describe, expect, it } from 'vitest';
import { contentDisposition } from '../../src/assets/content-disposition.header.js';

describe('asset download headers', () => {
  it('quotes plain names and adds the exact name as RFC 8187 filename*', () => {
    expect(contentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
  });

  it('keeps non-ASCII names exact in filename* and ASCII-only in the fallback', () => {
    const header = contentDisposition('Résumé 日本.txt');
    expect(header).toContain(`filename="R_sum_ __.txt"`);
    expect(header).toContain(`filename*=UTF-8''R%C3%A9sum%C3%A9%20%E6%97%A5%E6%9C%AC.txt`);
    expect(decodeURIComponent(header.split("UTF-8''")[1]!)).toBe('Résumé 日本.txt');
  });

  it('cannot be broken out of by quotes, backslashes, semicolons or percent signs', () => {
    const header = contentDisposition(`a"; filename="evil.exe\\%41;b'(c)*`);
    const fallback = /filename="([^"]*)"/.exec(header)![1];
    expect(fallback).toBe(`a_; filename=_evil.exe__41;b'(c)*`);
    expect(header.match(/"/g)).toHaveLength(2);
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(decodeURIComponent(header.split("UTF-8''")[1]!)).toBe(`a"; filename="evil.exe\\%41;b'(c)*`);
  });

  it('falls back to "file" when nothing printable is left', () => {
    expect(contentDisposition('日本')).toContain('filename="__"');
    expect(contentDisposition('   ')).toContain('filename="file"');
  });
});
