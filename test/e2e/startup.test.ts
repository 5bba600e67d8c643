import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, removeTargets, requireEngine, ROOT, startTarget, testEnv} from './helpers.js'

const tracer = join(ROOT, 'test/support/trace-modules.mjs')

/** Runs the CLI and returns the modules it loaded. */
function loadedModules(args: string[]): {modules: string[]; status: number | null; stdout: string} {
  const file = join(mkdtempSync(join(tmpdir(), 'mindbg-trace-')), 'modules.txt')
  const r = spawnSync(process.execPath, ['--import', tracer, BIN, ...args], {env: testEnv({MINDBG_TRACE_FILE: file}), encoding: 'utf8'})
  return {modules: readFileSync(file, 'utf8').split('\n'), status: r.status, stdout: r.stdout}
}

const heavy = ['/node_modules/dockerode/', '/node_modules/@kubernetes/client-node/', '/node_modules/ssh2/', '/node_modules/@grpc/', '/node_modules/ora/']

describe('start-up loads only what the command needs', () => {
  it.each([['--help'], ['--version'], ['attach', '--help'], ['ls', '--help']])('mindbg %s loads neither dockerode nor client-node', (...args) => {
    const {modules, status, stdout} = loadedModules(args)
    expect(status).toBe(0)
    expect(stdout).toMatch(/mindbg/)
    for (const h of heavy) expect(modules.filter((m) => m.includes(h)), h).toEqual([])
  })

  it('--version does not even load oclif', () => {
    const {modules, stdout} = loadedModules(['--version'])
    expect(stdout).toMatch(/^mindbg\/\d+\.\d+\.\d+ linux-\w+ node-v\d+/)
    expect(modules.filter((m) => m.includes('/@oclif/'))).toEqual([])
  })

  describe('a one-shot attach', () => {
    let web: string
    beforeAll(() => {
      requireEngine()
      web = startTarget()
    })
    afterAll(removeTargets)

    it('loads dockerode but not its idle ssh2/gRPC transports, nor ora when stderr is no TTY', () => {
      const {modules, status} = loadedModules(['attach', web, '--', 'true'])
      expect(status).toBe(0)
      expect(modules.some((m) => m.includes('/node_modules/dockerode/'))).toBe(true)
      for (const h of ['/node_modules/ssh2/', '/node_modules/@grpc/', '/node_modules/ora/', '/node_modules/@kubernetes/']) {
        expect(modules.filter((m) => m.includes(h)), h).toEqual([])
      }
    })
  })
})
