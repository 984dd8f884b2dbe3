import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

/**
 * The layers, lowest first: a module imports from its own layer or one below, never above.
 * Keyed by the first part of a path under src/ (a folder, or a file at the top).
 */
const LAYERS: readonly (readonly string[])[] = [
  ['types.ts', 'errors.ts', 'system.ts', 'version.ts', 'progress.ts', 'load-once.ts'],
  ['store', 'remote'],
  ['corpus', 'embedder', 'rerank', 'answerer', 'snapshot'],
  ['pipeline'],
  ['engine'],
  ['service', 'mcp', 'config.ts'],
  ['cli', 'commands'],
];

/** Every module under src/ and the src/ modules it imports (static, type-only and dynamic imports alike). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(SRC, file), 'utf8'), true, true);
    const local = importedFiles.map((entry) => entry.fileName).filter((name) => name.startsWith('.'));
    graph.set(file, local.map((name) => relative(SRC, resolve(SRC, dirname(file), name.replace(/\.js$/, '.ts')))));
  }
  return graph;
}

/** The import cycles: each strongly connected group of modules with more than one member, or one that imports itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) as number);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const group: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = member === node ? undefined : stack.pop()) {
      onStack.delete(member);
      group.push(member);
    }
    if (group.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(group.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

function layerOf(file: string): number {
  const top = file.split('/')[0] as string;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  if (layer < 0) throw new Error(`src/${file}: ${top} has no layer in test/architecture.test.ts`);
  return layer;
}

describe('the import graph of src/', () => {
  const graph = importGraph();

  it('reads every module and what it imports', () => {
    expect(graph.get('engine/local.ts')).toContain('engine/resources.ts');
    expect(graph.get('engine/ingest.ts')).toContain('pipeline/snapshot.ts');
  });

  it('has no import cycles', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('imports only from the same layer or below', () => {
    const upward = [...graph].flatMap(([file, imports]) => imports.filter((target) => layerOf(target) > layerOf(file)).map((target) => `${file} -> ${target}`));
    expect(upward).toEqual([]);
  });

  it('finds a cycle and an upward import when there is one', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]]))).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    expect(cycles(new Map([['a.ts', ['a.ts']]]))).toEqual([['a.ts']]);
    expect(layerOf('store/store.ts')).toBeLessThan(layerOf('pipeline/grounding.ts'));
  });
});
