import {readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

import {describe, expect, it} from 'vitest'

/**
 * The layers of ARCHITECTURE.md, checked: no import cycle anywhere in src/ and commands/ (type-only and dynamic
 * imports count too: a cycle of types is a cycle of ideas), and no import upward between the layers.
 */
const ROOT = resolve(import.meta.dirname, '../..')
const SPECIFIER = /(?:^|[^\w.])(?:import|export)\s*(?:type\s+)?(?:[\w*{}\s,]+\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return /\.c?ts$/.test(name) ? [path] : []
  })
}

/** Each source file's imports of other source files (relative specifiers, .js written for .ts). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'commands'))]) {
    const text = readFileSync(file, 'utf8')
    const targets: string[] = []
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] ?? m[2]!
      if (!spec.startsWith('.')) continue
      targets.push(relative(ROOT, resolve(dirname(file), spec.replace(/\.c?js$/, (ext) => (ext === '.cjs' ? '.cts' : '.ts')))))
    }
    graph.set(relative(ROOT, file), targets)
  }
  return graph
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node]
    state.set(node, 'open')
    path.push(node)
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next)
      if (cycle) return cycle
    }
    path.pop()
    state.set(node, 'done')
    return undefined
  }
  for (const node of graph.keys()) {
    const cycle = visit(node)
    if (cycle) return cycle
  }
  return undefined
}

/** Lower layers first; a file may import its own layer and those below it, never one above. */
const LAYERS: Array<[string, RegExp]> = [
  ['domain', /^src\/(domain|images)\//],
  ['deps', /^src\/deps\.ts$/],
  ['backends', /^src\/backends\//],
  ['session', /^src\/session\//],
  ['cli', /^src\/cli\//],
  ['commands', /^commands\//],
]
const layerOf = (file: string): number => LAYERS.findIndex(([, re]) => re.test(file))

describe('the import graph', () => {
  const graph = importGraph()

  it('sees every source file and their imports', () => {
    expect(graph.size).toBeGreaterThan(30)
    expect(graph.get('src/session/attach.ts')).toContain('src/backends/registry.ts')
    for (const file of graph.keys()) expect(layerOf(file), `${file} belongs to no layer`).toBeGreaterThanOrEqual(0)
  })

  it('has no cycle', () => {
    expect(findCycle(graph)).toBeUndefined()
  })

  it('finds a cycle when there is one (the check can fail)', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a'])
  })

  it('runs downward only: CLI on top, backends below the session core, shared vocabulary at the bottom', () => {
    const upward = [...graph].flatMap(([from, tos]) => tos.filter((to) => layerOf(to) > layerOf(from)).map((to) => `${from} -> ${to}`))
    // The session core may name backend types (the seam it drives) but backends never import the session core.
    expect(upward).toEqual([])
  })

  it('keeps one backend from importing another', () => {
    const across = [...graph].flatMap(([from, tos]) => {
      const mine = /^src\/backends\/(\w+)\//.exec(from)?.[1]
      return tos.filter((to) => mine && /^src\/backends\/(\w+)\//.exec(to)?.[1] && /^src\/backends\/(\w+)\//.exec(to)?.[1] !== mine).map((to) => `${from} -> ${to}`)
    })
    expect(across).toEqual([])
  })
})
