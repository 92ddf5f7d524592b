import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * The import rules of .dependency-cruiser.cjs (no module cycles, the archive library free of Nest
 * and domains, the kernel naming no domain...), as `npm run lint:deps` checks them, plus the rule
 * dependency-cruiser cannot say: no two folders import each other, directly or through others.
 */

/** One import, as dependency-cruiser resolved it (type-only imports count: they couple too). */
interface Import {
  from: string;
  to: string;
}

interface CruiseOutput {
  modules: { source: string; dependencies: { resolved: string }[] }[];
  summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[] };
}

/**
 * The folder cycles among `imports` (paths like `src/backup/restore/x.ts`), at every depth: the
 * top-level folders (`src/apps` and `src/backup` never import each other both ways), then their
 * subfolders (`src/backup` itself, `src/backup/restore`, `src/backup/shared`...), and so on; a
 * folder's own files count as the folder, so a root that imports its subfolder may not be imported
 * back by it. Each cycle reads `a → b → a`, with one import that makes each step.
 */
function folderCycles(imports: readonly Import[]): string[] {
  const depth = Math.max(0, ...imports.flatMap(({ from, to }) => [from, to].map((path) => path.split('/').length - 2)));
  const cycles: string[] = [];
  for (let level = 1; level <= depth; level++) {
    const folderOf = (path: string) => path.split('/').slice(0, -1).slice(0, level + 1).join('/');
    const edges = new Map<string, Map<string, Import>>();
    for (const imported of imports) {
      const a = folderOf(imported.from);
      const b = folderOf(imported.to);
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      if (!edges.get(a)!.has(b)) edges.get(a)!.set(b, imported);
    }
    for (const component of stronglyConnected(edges)) {
      const cycle = cycleThrough(component, edges);
      const line = cycle.map((folder, i) => (i === 0 ? folder : `${folder} (${edges.get(cycle[i - 1]!)!.get(folder)!.from} imports ${edges.get(cycle[i - 1]!)!.get(folder)!.to})`));
      const text = line.join(' → ');
      if (!cycles.includes(text)) cycles.push(text);
    }
  }
  return cycles;
}

/** The groups of folders that reach each other (Tarjan), only those of two or more. */
function stronglyConnected(edges: ReadonlyMap<string, ReadonlyMap<string, Import>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      group.push(member);
    } while (member !== node);
    if (group.length > 1) groups.push(group.sort());
  };
  for (const node of [...edges.keys()].sort()) if (!index.has(node)) visit(node);
  return groups;
}

/** A shortest way round from the group's first folder back to it, staying in the group. */
function cycleThrough(group: readonly string[], edges: ReadonlyMap<string, ReadonlyMap<string, Import>>): string[] {
  const start = group[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of edges.get(node)?.keys() ?? []) {
      if (!group.includes(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  throw new Error(`${group.join(', ')} is not a cycle`);
}

describe('dependency rules', () => {
  let cruised: CruiseOutput;
  let imports: Import[];

  beforeAll(async () => {
    const bin = join(process.cwd(), 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
    // dependency-cruiser exits with the number of violations; the JSON says which they are either way.
    const output = await promisify(execFile)(process.execPath, [bin, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { maxBuffer: 64 * 1024 * 1024 }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
    );
    cruised = JSON.parse(output.stdout) as CruiseOutput;
    imports = cruised.modules.flatMap((module) => module.dependencies.filter((d) => d.resolved.startsWith('src/')).map((d) => ({ from: module.source, to: d.resolved })));
  }, 120_000);

  it('cruises the whole source', () => {
    expect(cruised.modules.length).toBeGreaterThan(200);
    expect(imports.some((i) => i.from === 'src/backup/restore/restore.runner.ts' && i.to === 'src/archive/archive-restore.ts')).toBe(true);
  });

  it('breaks no rule of .dependency-cruiser.cjs (npm run lint:deps explains each)', () => {
    const violations = cruised.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.cycle ? v.cycle.map((step) => step.name).join(' → ') : v.to}`);
    expect(violations).toEqual([]);
  });

  it('has no folders that import each other, at any depth', () => {
    expect(folderCycles(imports)).toEqual([]);
  });

  it('names a folder cycle by its folders and the imports that make it', () => {
    const cycles = folderCycles([
      { from: 'src/apps/a.ts', to: 'src/backup/create/b.ts' },
      { from: 'src/backup/shared/c.ts', to: 'src/apps/d.ts' },
      { from: 'src/backup/backups.module.ts', to: 'src/backup/restore/r.ts' },
      { from: 'src/backup/restore/r.ts', to: 'src/backup/shared/s.ts' },
      { from: 'src/backup/shared/s.ts', to: 'src/backup/x.ts' },
      { from: 'src/platform/p.ts', to: 'src/jobs/j.ts' },
    ]);
    expect(cycles).toEqual([
      'src/apps → src/backup (src/apps/a.ts imports src/backup/create/b.ts) → src/apps (src/backup/shared/c.ts imports src/apps/d.ts)',
      'src/backup → src/backup/restore (src/backup/backups.module.ts imports src/backup/restore/r.ts) → src/backup/shared (src/backup/restore/r.ts imports src/backup/shared/s.ts) → src/backup (src/backup/shared/s.ts imports src/backup/x.ts)',
    ]);
  });
});
