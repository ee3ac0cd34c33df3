/**
 * The import graph of src/ points down the layers (README "Architecture"): a module may
 * import from its own folder and from folders below it, never from one above. Type-only
 * imports count: a type that points up is a design that points up.
 *
 *   perl, text, util      leaves: Perl idioms, untrusted text, small utilities
 *   checks                one module per check kind, and their kernel
 *   parser, logs          ldirectord.cf → Config (service names from the check registry);
 *                         the log file's lines
 *   schedule              probes, health, the scheduler, the bounded-frequency runner
 *   reconcile             plan, diff, ipvsadm
 *   engine                the engine, its events and its read model
 *   daemon                the running daemon and its plugins (status, metrics, alerts, …)
 *   cli                   the commands
 *   testing               test doubles and the demo's stand-ins: nothing above imports them
 *   (top level)           the entry points, cli.ts and demo.ts
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ROOT } from '../helpers/env';

const RANK: Record<string, number> = {
  perl: 0,
  text: 0,
  util: 0,
  checks: 1,
  parser: 2,
  logs: 2,
  schedule: 3,
  reconcile: 4,
  engine: 5,
  daemon: 6,
  cli: 7,
  testing: 8,
  '': 9,
};

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return name.endsWith('.ts') ? [p] : [];
  });
}

/** The folder of src/ a file is in ('' for the top level). */
const folderOf = (file: string) => {
  const rel = relative(SRC, file);
  return rel.includes(sep) ? rel.split(sep)[0]! : '';
};

/** Every relative module a source file imports (static, type-only and dynamic). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)'(\.{1,2}\/[^']+)'/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '')));
  return out;
}

/** Imports from a folder to one above or beside it, as `file → target`. */
function violations(files: string[], imports: (file: string) => string[]): string[] {
  const up: string[] = [];
  for (const file of files) {
    const from = folderOf(file);
    for (const target of imports(file)) {
      const to = folderOf(target + '.ts');
      if (to !== from && !(RANK[to]! < RANK[from]!)) up.push(`${relative(ROOT, file)} → ${relative(ROOT, target)}`);
    }
  }
  return up;
}

describe('structure: imports point down the layers', () => {
  const files = sources(SRC);

  it('every folder of src/ has a layer', () => {
    const folders = new Set(files.map(folderOf));
    for (const f of folders)
      assert.ok(f in RANK, `src/${f}/ has no place in the layering (test/structure/layers.test.ts)`);
  });

  it('no module imports from a folder above its own, and production code never imports testing/', () => {
    const up = violations(files, importsOf);
    assert.deepEqual(up, [], `imports that point up or sideways:\n  ${up.join('\n  ')}`);
  });

  it('reports an import that points up, or into testing/', () => {
    const graph: Record<string, string[]> = {
      [join(SRC, 'parser', 'x.ts')]: [join(SRC, 'engine', 'engine'), join(SRC, 'perl', 'regex')],
      [join(SRC, 'daemon', 'y.ts')]: [join(SRC, 'testing', 'fake-clock'), join(SRC, 'cli', 'args')],
      [join(SRC, 'cli', 'z.ts')]: [join(SRC, 'daemon', 'daemon'), join(SRC, 'cli', 'args')],
    };
    assert.deepEqual(
      violations(Object.keys(graph), (f) => graph[f]!),
      [
        'src/parser/x.ts → src/engine/engine',
        'src/daemon/y.ts → src/testing/fake-clock',
        'src/daemon/y.ts → src/cli/args',
      ],
    );
    assert.deepEqual(
      importsOf(join(SRC, 'cli.ts')).map((p) => relative(SRC, p)),
      ['cli/args', 'cli/text', 'cli/check', 'cli/dry-run', 'cli/show', 'cli/logs', 'cli/drain', 'cli/control'],
      'static and dynamic imports are both read',
    );
  });
});
