import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/** The layer rules of the design notes, checked on the source text so a slip fails the build. */
const SRC = join(process.cwd(), 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));
const imports = (text: string) => [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);

describe('layer rules', () => {
  it('finds the source', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('lets only infrastructure (and its module) import adapters; domains see ports', () => {
    const offenders = files
      .filter((f) => !f.path.startsWith('infrastructure/'))
      .filter((f) => imports(f.text).some((i) => i.endsWith('.adapter.js')))
      .map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  // Apps are what a backup is of, so the core may use the app rules (names); nothing else.
  it('keeps the backup core free of domain modules except through archive participants', () => {
    const domains = ['/contents/', '/schemas/', '/assets/', '/users/'];
    const offenders = files
      .filter((f) => f.path.startsWith('backup/'))
      .filter((f) => imports(f.text).some((i) => domains.some((d) => i.includes(d))))
      .map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  // The archive library serves the server, the offline `appvault archive` commands and tests alike.
  it('keeps the archive library (src/archive) free of Nest and of the domains', () => {
    const outside = ['@nestjs/', '/apps/', '/contents/', '/schemas/', '/assets/', '/users/', '/backup/', '/jobs/'];
    const offenders = files
      .filter((f) => f.path.startsWith('archive/'))
      .filter((f) => imports(f.text).some((i) => outside.some((o) => i.includes(o))))
      .map((f) => f.path);
    expect(files.filter((f) => f.path.startsWith('archive/')).length).toBeGreaterThan(5);
    expect(offenders).toEqual([]);
  });

  it('uses no `any` in source code', () => {
    const offenders = files.filter((f) => /(:\s*any\b|\bas any\b|<any>)/.test(f.text)).map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  it('names files in kebab-case with a role suffix', () => {
    const offenders = files.filter((f) => !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.ts$/.test(f.path.split('/').pop()!)).map((f) => f.path);
    expect(offenders).toEqual([]);
  });

  // The admin page (web/src) follows the same naming and typing rules as the server.
  it('keeps the admin page source in kebab-case files with a role suffix and free of `any`', () => {
    const web = join(process.cwd(), 'web', 'src');
    const pageFiles = (function walk(dir: string): string[] {
      return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]));
    })(web).map((path) => ({ path: relative(web, path), text: readFileSync(path, 'utf8') }));
    expect(pageFiles.length).toBeGreaterThan(5);
    expect(pageFiles.filter((f) => !/^[a-z0-9-]+(\.[a-z0-9-]+)*\.(ts|tsx|css)$/.test(f.path.split('/').pop()!)).map((f) => f.path)).toEqual([]);
    expect(pageFiles.filter((f) => /(:\s*any\b|\bas any\b|<any>)/.test(f.text)).map((f) => f.path)).toEqual([]);
  });
});
