import {describe, expect, it} from 'vitest'

import {dockerError, engineMessage} from '../../src/backends/docker/errors.js'
import {ExitCode, formatError, MindbgError, toMindbgError} from '../../src/domain/errors.js'

const withCode = (code: string): Error => Object.assign(new Error(`connect ${code} /var/run/docker.sock`), {code})

/** What every translation owes the user: the documented code, a one-line message, and a hint. */
function expectTranslated(e: MindbgError, exit: number, message: RegExp): void {
  expect(e.exitCode).toBe(exit)
  expect(e.message).toMatch(message)
  expect(e.message).not.toContain('\n')
  expect(e.hint).toBeTruthy()
}

describe('dockerError: the Docker backend translates its own failures', () => {
  it.each([
    {name: 'socket missing', error: withCode('ENOENT'), exit: ExitCode.engineUnreachable, message: /cannot reach the Docker engine/},
    {name: 'connection refused', error: withCode('ECONNREFUSED'), exit: ExitCode.engineUnreachable, message: /cannot reach/},
    {name: 'permission denied', error: withCode('EACCES'), exit: ExitCode.permissionDenied, message: /permission denied/},
    {name: 'engine HTTP error', error: Object.assign(new Error('(HTTP code 500) server error'), {statusCode: 500, json: {message: 'boom'}}), exit: ExitCode.internal, message: /answered 500: boom/},
    {name: 'anything else', error: new TypeError('x is undefined'), exit: ExitCode.internal, message: /x is undefined/},
  ])('$name', ({error, exit, message}) => expectTranslated(dockerError(error), exit, message))

  it('honours DOCKER_HOST in the message', () => {
    const saved = process.env.DOCKER_HOST
    process.env.DOCKER_HOST = 'tcp://127.0.0.1:1'
    try {
      expect(dockerError(withCode('ECONNREFUSED')).message).toContain('tcp://127.0.0.1:1')
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST
      else process.env.DOCKER_HOST = saved
    }
  })
})

describe('toMindbgError: the generic layer knows no runtime', () => {
  it.each([
    {name: 'oclif parse error', error: Object.assign(new Error('Expected --profile=x to be one of: a, b\nSee more help'), {oclif: {exit: 2}}), exit: 2, message: /^Expected --profile=x/},
    {name: 'a socket error is a bug once it gets here', error: withCode('ECONNREFUSED'), exit: ExitCode.internal, message: /connect ECONNREFUSED/},
    {name: 'anything else', error: new TypeError('x is undefined'), exit: ExitCode.internal, message: /x is undefined/},
    {name: 'a thrown string', error: 'weird', exit: ExitCode.internal, message: /weird/},
  ])('$name', ({error, exit, message}) => expectTranslated(toMindbgError(error), exit, message))

  it.each([
    [{json: {message: 'no such image'}}, 'no such image'],
    [{json: 'plain text body'}, 'plain text body'],
    [{json: null, reason: 'server error', message: '(HTTP code 500) server error - Head "http://r/v2/x/manifests/1": no basic auth credentials '}, 'Head "http://r/v2/x/manifests/1": no basic auth credentials'],
    [{json: null, message: '(HTTP code 404) unexpected - manifest for x:1 not found: manifest unknown '}, 'manifest for x:1 not found: manifest unknown'],
    [{reason: 'conflict', message: 'x'}, 'conflict'],
  ])('engineMessage %#', (error, text) => expect(engineMessage(Object.assign(new Error(error.message ?? ''), error))).toBe(text))

  it('keeps MindbgErrors as they are', () => {
    const e = new MindbgError('targetNotFound', 'no container "x"', 'docker ps')
    expect(toMindbgError(e)).toBe(e)
  })

})

describe('formatError', () => {
  it('prints message and hint, no stack', () => {
    expect(formatError(new MindbgError('targetNotFound', 'no container "x"', 'List them: docker ps'), false)).toBe('mindbg: no container "x"\nHint: List them: docker ps\n')
  })
  it('prints the stack with --debug', () => {
    expect(formatError(new MindbgError('internal', 'boom'), true)).toMatch(/MindbgError|at /)
  })
  it('exit codes are distinct', () => {
    const codes = Object.values(ExitCode)
    expect(new Set(codes).size).toBe(codes.length)
  })
})
