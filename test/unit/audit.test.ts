/**
 * The audit log (src/session/audit.ts): where it goes, what a record holds, and that mindbg processes appending at
 * once never interleave their lines.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {MindbgError} from '../../src/domain/errors.js'
import type {SessionResult} from '../../src/domain/session.js'
import {appendAudit, attachRecord, type AuditRecord, auditLogPath, readAudit} from '../../src/session/audit.js'
import type {AttachRequest} from '../../src/session/attach.js'

const dir = (): string => mkdtempSync(join(tmpdir(), 'mindbg-audit-'))

describe('where the audit log goes', () => {
  it.each([
    ['MINDBG_AUDIT_LOG wins', {MINDBG_AUDIT_LOG: '/x/a.jsonl', XDG_STATE_HOME: '/s', HOME: '/h'}, '/c.jsonl', '/x/a.jsonl'],
    ['MINDBG_AUDIT_LOG=false turns it off', {MINDBG_AUDIT_LOG: 'false'}, '/c.jsonl', undefined],
    ['MINDBG_AUDIT_LOG empty turns it off', {MINDBG_AUDIT_LOG: ''}, undefined, undefined],
    ['then the config file', {XDG_STATE_HOME: '/s'}, '/c.jsonl', '/c.jsonl'],
    ['auditLog: false in the config', {XDG_STATE_HOME: '/s'}, false, undefined],
    ['then XDG_STATE_HOME', {XDG_STATE_HOME: '/s', HOME: '/h'}, undefined, '/s/mindbg/audit.jsonl'],
    ['then ~/.local/state', {HOME: '/h'}, undefined, '/h/.local/state/mindbg/audit.jsonl'],
  ] as const)('%s', (_what, env, configured, expected) => {
    expect(auditLogPath(env, configured)).toBe(expected)
  })
})

const NEW: AttachRequest = {
  kind: 'new',
  target: {runtime: 'docker', ref: 'web'},
  request: {image: 'busybox:1.37.0-musl', profile: 'general', reason: 'INC-4711', command: ['ps', '-ef']} as never,
  streams: {tty: false, stdin: false},
  reuse: false,
  backend: {},
}

describe('a record', () => {
  it('of a session that ran: target and debugger as resolved, the command, exit code, ending, duration', () => {
    const result: SessionResult = {
      exitCode: 3,
      ending: 'exit',
      runtime: 'docker',
      target: {name: 'web', id: 'abc123'},
      debugger: {name: 'mindbg-web-x7k2p', image: 'busybox:1.37.0-musl'},
      timings: {requested: 1000, created: 1100, started: 1200, ended: 4000},
    }
    const r = attachRecord(NEW, 1000, {result})
    expect(r).toMatchObject({
      time: new Date(4000).toISOString(),
      started: new Date(1000).toISOString(),
      durationMs: 3000,
      command: 'attach',
      runtime: 'docker',
      target: 'web',
      targetId: 'abc123',
      debugger: 'mindbg-web-x7k2p',
      image: 'busybox:1.37.0-musl',
      profile: 'general',
      reason: 'INC-4711',
      oneShot: ['ps', '-ef'],
      exitCode: 3,
      ending: 'exit',
    })
    expect(r.user).toBeTruthy()
    expect(r.host).toBeTruthy()
    expect(r).not.toHaveProperty('error')
  })

  it('of a session that could not start: the error and its exit code', () => {
    const r = attachRecord({...NEW, target: {runtime: 'kubernetes', pod: 'web', namespace: 'pay', container: 'app'}}, Date.now(), {error: new MindbgError('targetNotFound', 'pod pay/web not found')})
    expect(r).toMatchObject({target: 'pod/pay/web/app', runtime: 'kubernetes', exitCode: 112, ending: 'failed', error: 'pod pay/web not found'})
  })

  it('a re-attach names the session; a shell has no oneShot', () => {
    const r = attachRecord({kind: 'reattach', runtime: 'docker', target: undefined, session: 'mindbg-web-x7k2p', streams: {tty: true, stdin: true}, backend: {}, command: [], end: false}, Date.now(), {error: new Error('boom')})
    expect(r).toMatchObject({target: 'session mindbg-web-x7k2p', exitCode: 125})
    expect(r).not.toHaveProperty('oneShot')
  })
})

describe('appending and reading', () => {
  const record = (n: number): AuditRecord => ({time: new Date(Date.now() - n * 60_000).toISOString(), started: '', durationMs: 1, user: 'u', host: 'h', command: 'attach', runtime: 'docker', target: `t${n}`, exitCode: 0, ending: 'exit'})

  it('creates a private directory and file, appends, and reads back since a time', () => {
    const path = join(dir(), 'state', 'mindbg', 'audit.jsonl')
    for (const n of [90, 30, 1]) appendAudit(path, record(n))
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700)
    expect(readAudit(path).records.map((r) => r.target)).toEqual(['t90', 't30', 't1'])
    expect(readAudit(path, Date.now() - 60 * 60_000).records.map((r) => r.target)).toEqual(['t30', 't1'])
  })

  it('skips lines that are no records (a line cut off by a full disk) and counts them', () => {
    const path = join(dir(), 'a.jsonl')
    writeFileSync(path, `${JSON.stringify(record(1))}\n{"time": "2026-\nnot json\n`)
    expect(readAudit(path)).toMatchObject({records: [{target: 't1'}], skipped: 2})
  })

  it('no log yet: no records', () => {
    expect(readAudit(join(dir(), 'none.jsonl'))).toEqual({records: [], skipped: 0})
  })

  it('8 processes appending 300 long records each at once: every line whole', async () => {
    const path = join(dir(), 'a.jsonl')
    const script = `
      import {appendAudit} from ${JSON.stringify(new URL('../../dist/src/session/audit.js', import.meta.url).pathname)}
      const id = process.argv[1]
      for (let i = 0; i < 300; i++) appendAudit(${JSON.stringify(path)}, {time: new Date().toISOString(), started: '', durationMs: i, user: id, host: 'h', command: 'attach', runtime: 'docker', target: id.repeat(2000), exitCode: 0, ending: 'exit'})
    `
    await Promise.all(
      Array.from({length: 8}, (_, i) => new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, `w${i}`], {stdio: 'inherit'})
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${i} exited ${code}`))))
      })),
    )
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n')
    expect(lines).toHaveLength(2400)
    const {records, skipped} = readAudit(path)
    expect(skipped).toBe(0)
    for (const r of records) expect(r.target).toBe(r.user.repeat(2000))
  })
})
