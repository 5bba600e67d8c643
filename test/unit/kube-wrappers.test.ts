/**
 * The shell wrappers of Kubernetes debuggers, run for real with busybox sh (the default debug image's shell):
 * the go-ahead gate, and a one-shot command that stops when the session's stdin closes.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {GO_AHEAD, INPUT_WRAPPER, ONE_SHOT_WRAPPER, SHELL_WRAPPER} from '../../src/runtime/kube-spec.js'

const BUSYBOX = '/bin/busybox'

interface Run {
  code: number | null
  stdout: string
  ms: number
}

/** Runs `busybox sh -c script mindbg ...args`, feeding stdin step by step: strings are written, numbers wait (ms), null closes. */
function run(script: string, args: string[], steps: Array<string | number | null>): Promise<Run> {
  if (!existsSync(BUSYBOX)) throw new Error('/bin/busybox is missing: npm test provisions busybox-static')
  const started = Date.now()
  const child = spawn(BUSYBOX, ['sh', '-c', script, 'mindbg', ...args], {stdio: ['pipe', 'pipe', 'inherit']})
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d))
  void (async () => {
    for (const step of steps) {
      if (step === null) child.stdin.end()
      else if (typeof step === 'number') await new Promise((r) => setTimeout(r, step))
      else child.stdin.write(step)
    }
  })()
  return new Promise((resolve) => child.on('close', (code) => resolve({code, stdout, ms: Date.now() - started})))
}

describe('ONE_SHOT_WRAPPER', () => {
  it('runs the command after the go-ahead and exits with its code while the session lasts', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'sleep 0.5; echo done; exit 7'], [GO_AHEAD, 1500, null])
    expect(r).toMatchObject({code: 7, stdout: 'done\n'})
  })

  it('stops the command as soon as the session ends (stdin closed)', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sleep', '30'], [GO_AHEAD, 300, null])
    expect(r.code).toBe(143)
    expect(r.ms).toBeLessThan(3000)
  })

  it('a command that ignores SIGTERM is killed 2 s later', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'trap "" TERM; sleep 30'], [GO_AHEAD, 300, null])
    expect(r.code).toBe(137)
    expect(r.ms).toBeLessThan(5000)
  })

  it('never runs the command when the session ended before the go-ahead', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['echo', 'ran'], [null])
    expect(r).toMatchObject({code: 0, stdout: ''})
  })

  it('keeps the command off the session stdin (it reads /dev/null, not the lifeline)', async () => {
    const r = await run(ONE_SHOT_WRAPPER, ['sh', '-c', 'cat; echo eof'], [GO_AHEAD, 3000, null])
    expect(r).toMatchObject({code: 0, stdout: 'eof\n'})
    expect(r.ms).toBeLessThan(2500)
  })
})

describe('INPUT_WRAPPER and SHELL_WRAPPER', () => {
  it('hands the rest of stdin to the command', async () => {
    const r = await run(INPUT_WRAPPER, ['sh', '-c', 'tr a-z A-Z'], [GO_AHEAD, 'hello\n', null])
    expect(r).toMatchObject({code: 0, stdout: 'HELLO\n'})
  })

  it('runs a script from stdin in the shell, with its exit code', async () => {
    const r = await run(SHELL_WRAPPER, [], [GO_AHEAD, 'echo $((6*7))\nexit 4\n'])
    expect(r).toMatchObject({code: 4, stdout: '42\n'})
  })

  it('the shell ends on EOF', async () => {
    const r = await run(SHELL_WRAPPER, [], [GO_AHEAD, 'echo hi\n', null])
    expect(r).toMatchObject({code: 0, stdout: 'hi\n'})
  })
})
