/**
 * Runbooks as read from YAML (src/session/runbook.ts): what a valid one turns into, and for each mistake a person
 * makes, the message with the file, the line and the key. The built-in triage runbook's steps are run here with
 * busybox's sh against this very process.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {MindbgError} from '../../src/domain/errors.js'
import {builtInRunbooks, DEFAULT_STEP_TIMEOUT_MS, loadRunbook, parseRunbook} from '../../src/session/runbook.js'

const VALID = `name: web-triage
description: what an on-call engineer runs first
image: busybox:1.37.0-musl
profile: general
timeout: 20s
steps:
  - name: processes
    run: ps -o pid,user,rss,args
  - name: listening
    run: [netstat, -tln]
  - name: health
    run: wget -qO- -T 3 http://127.0.0.1:8080/healthz
    timeout: 5s
  - name: config
    collect: /etc/app/
`

describe('a valid runbook', () => {
  it('turns into steps: a string runs under sh -c, a list is argv verbatim, collect a path', async () => {
    const r = await parseRunbook(VALID, 'web.yaml')
    expect(r).toMatchObject({name: 'web-triage', description: 'what an on-call engineer runs first', image: 'busybox:1.37.0-musl', sibling: false, profile: 'general', timeoutMs: 20_000, source: 'web.yaml'})
    expect(r.steps).toEqual([
      {name: 'processes', kind: 'run', argv: ['sh', '-c', 'ps -o pid,user,rss,args'], shell: true, timeoutMs: 20_000},
      {name: 'listening', kind: 'run', argv: ['netstat', '-tln'], shell: false, timeoutMs: 20_000},
      {name: 'health', kind: 'run', argv: ['sh', '-c', 'wget -qO- -T 3 http://127.0.0.1:8080/healthz'], shell: true, timeoutMs: 5000},
      {name: 'config', kind: 'collect', path: '/etc/app', timeoutMs: 20_000},
    ])
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(r.text).toBe(VALID)
  })

  it('defaults: the name from the file, 30 s per step, no image or profile', async () => {
    const r = await parseRunbook('steps:\n  - {name: a, run: "true"}\n', '/x/checks.yml')
    expect(r).toMatchObject({name: 'checks', timeoutMs: DEFAULT_STEP_TIMEOUT_MS, image: undefined, profile: undefined, sibling: false})
  })

  it('sibling: true, a bare number of seconds as timeout, numbers in argv', async () => {
    const r = await parseRunbook('sibling: true\ntimeout: 7\nsteps:\n  - {name: a, run: [sleep, 1]}\n', 'r.yaml')
    expect(r).toMatchObject({sibling: true, timeoutMs: 7000, steps: [{argv: ['sleep', '1']}]})
  })
})

describe('a runbook with a mistake: the file, the line and the key', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['not YAML', 'steps: [a\n', /^runbook r\.yaml, line \d: not valid YAML/],
    ['a list at the top', '- a\n', /^runbook r\.yaml, line 1: the top level must be a mapping/],
    ['an unknown top key', 'name: x\nstep:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 2: step: unknown key/],
    ['no steps', 'name: x\n', /^runbook r\.yaml: steps: missing/],
    ['empty steps', 'steps: []\n', /^runbook r\.yaml, line 1: steps: must be a non-empty list/],
    ['a step that is a string', 'steps:\n  - ls\n', /^runbook r\.yaml, line 2: steps\[0\]: must be a mapping/],
    ['a step without a name', 'steps:\n  - run: ls\n', /^runbook r\.yaml, line 2: steps\[0\]\.name: missing/],
    ['a name that cannot be a file name', 'steps:\n  - name: ../x\n    run: ls\n', /^runbook r\.yaml, line 2: steps\[0\]\.name: "\.\.\/x" is not a step name/],
    ['a name used twice', 'steps:\n  - {name: a, run: ls}\n  - {name: a, run: ps}\n', /^runbook r\.yaml, line 3: steps\[1\]\.name: "a" is used twice/],
    ['an unknown step key', 'steps:\n  - name: a\n    command: ls\n', /^runbook r\.yaml, line 3: steps\[0\]\.command: unknown key/],
    ['run and collect', 'steps:\n  - name: a\n    run: ls\n    collect: /etc\n', /^runbook r\.yaml, line 4: steps\[0\] \(a\): has both run and collect/],
    ['neither', 'steps:\n  - name: a\n    timeout: 3s\n', /^runbook r\.yaml, line 2: steps\[0\] \(a\): has neither run nor collect/],
    ['run is a mapping', 'steps:\n  - name: a\n    run: {x: 1}\n', /^runbook r\.yaml, line 3: steps\[0\] \(a\)\.run: must be a command line/],
    ['run is an empty list', 'steps:\n  - name: a\n    run: []\n', /^runbook r\.yaml, line 3: steps\[0\] \(a\)\.run: must be a command line/],
    ['a relative collect path', 'steps:\n  - name: a\n    collect: etc/app\n', /^runbook r\.yaml, line 3: steps\[0\] \(a\)\.collect: must be an absolute path/],
    ['a bad step timeout', 'steps:\n  - name: a\n    run: ls\n    timeout: soon\n', /^runbook r\.yaml, line 4: steps\[0\] \(a\)\.timeout: "soon" is not a duration/],
    ['a bad runbook timeout', 'timeout: -1s\nsteps:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 1: timeout: "-1s" is not a duration/],
    ['an unknown profile', 'profile: root\nsteps:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 1: profile: unknown profile "root"/],
    ['image and sibling', 'image: busybox\nsibling: true\nsteps:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 2: sibling: cannot be set together with image/],
    ['sibling not a boolean', 'sibling: yes please\nsteps:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 1: sibling: must be true or false/],
    ['an empty image', 'image: ""\nsteps:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 1: image: must be a non-empty string/],
    ['a key twice', 'name: a\nname: b\nsteps:\n  - {name: a, run: ls}\n', /^runbook r\.yaml, line 2: not valid YAML/],
  ]
  it.each(cases)('%s', async (_what, text, message) => {
    const error = await parseRunbook(text, 'r.yaml').then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(MindbgError)
    expect((error as MindbgError).message).toMatch(message)
    expect((error as MindbgError).exitCode).toBe(2)
    expect((error as MindbgError).hint).toBeTruthy()
  })

  it('a missing file names it and the built-ins', async () => {
    await expect(loadRunbook('/nonexistent/r.yaml')).rejects.toThrow(/runbook \/nonexistent\/r\.yaml: no such file/)
  })

  it('a file is read; a name that is also a file path is the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mindbg-runbook-'))
    writeFileSync(join(dir, 'triage.yaml'), 'steps:\n  - {name: mine, run: ls}\n')
    expect((await loadRunbook(join(dir, 'triage.yaml'))).steps.map((s) => s.name)).toEqual(['mine'])
  })
})

describe('the built-in triage runbook', () => {
  it('is listed, valid, and has the steps an SRE wants first', async () => {
    expect(builtInRunbooks().map((r) => r.name)).toEqual(['triage'])
    const r = await loadRunbook('triage')
    expect(r.source).toBe('built-in')
    expect(r.steps.map((s) => s.name)).toEqual(['processes', 'listening', 'connections', 'pid1-status', 'limits', 'cgroup', 'mounts', 'dns', 'env-names', 'open-files'])
  })

  it('each step runs with busybox against a process (this one), exit 0; env-names prints names, never values', async () => {
    const r = await loadRunbook('triage')
    for (const step of r.steps) {
      if (step.kind !== 'run') continue
      const [, ...args] = step.argv
      const result = spawnSync('/bin/busybox', ['sh', ...args], {encoding: 'utf8', env: {PATH: process.env.PATH, MINDBG_TARGET_PID: String(process.pid), MINDBG_SECRET_CANARY: 'hunter2'}})
      expect(result.status, `${step.name}: ${result.stderr}`).toBe(0)
      expect(result.stdout.length, step.name).toBeGreaterThan(0)
      if (step.name === 'env-names') {
        expect(result.stdout).not.toContain('=')
        expect(result.stdout.split('\n')).toContain('PATH')
      }
      if (step.name === 'processes') expect(result.stdout).toMatch(new RegExp(`^${process.pid}\\s`, 'm'))
    }
  })
})
