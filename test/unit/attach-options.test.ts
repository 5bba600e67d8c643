import {describe, expect, it} from 'vitest'

import {type AttachInput, planAttach} from '../../src/cli/attach-plan.js'
import type {AttachFlags} from '../../src/cli/flag-table.js'
import {DEFAULT_IMAGE} from '../../src/domain/request.js'
import {MindbgError} from '../../src/domain/errors.js'

const flags = (over: Partial<AttachFlags> = {}): AttachFlags => ({privileged: false, chroot: false, 'detach-keys': 'ctrl-p,ctrl-q', ...over})
const input = (over: Partial<AttachInput> = {}): AttachInput => ({
  targetArg: 'web',
  command: [],
  flags: flags(),
  env: {},
  stdinIsTTY: true,
  stdoutIsTTY: true,
  ...over,
})

const plan = (over: Partial<AttachInput>) => {
  const p = planAttach(input(over))
  if (p.kind !== 'new') throw new Error('expected a new session')
  return p
}

describe('stream mode: automatic choice and overrides', () => {
  it.each([
    {name: 'shell in a terminal', command: [], stdinIsTTY: true, stdoutIsTTY: true, f: {}, stdin: true, tty: true},
    {name: 'shell with piped stdin', command: [], stdinIsTTY: false, stdoutIsTTY: true, f: {}, stdin: true, tty: false},
    {name: 'shell with redirected stdout', command: [], stdinIsTTY: true, stdoutIsTTY: false, f: {}, stdin: true, tty: false},
    {name: 'command from a terminal', command: ['ps'], stdinIsTTY: true, stdoutIsTTY: true, f: {}, stdin: false, tty: false},
    {name: 'command with piped stdin', command: ['cat'], stdinIsTTY: false, stdoutIsTTY: false, f: {}, stdin: true, tty: false},
    {name: 'command with stdin from /dev/null', command: ['ps'], stdinIsTTY: false, stdinHasData: false, stdoutIsTTY: false, f: {}, stdin: false, tty: false},
    {name: 'shell with stdin from /dev/null', command: [], stdinIsTTY: false, stdinHasData: false, stdoutIsTTY: false, f: {}, stdin: true, tty: false},
    {name: '-it for a command', command: ['top'], stdinIsTTY: true, stdoutIsTTY: true, f: {stdin: true, tty: true}, stdin: true, tty: true},
    {name: '--no-tty shell', command: [], stdinIsTTY: true, stdoutIsTTY: true, f: {tty: false}, stdin: true, tty: false},
    {name: '--no-stdin with piped input', command: ['ps'], stdinIsTTY: false, stdoutIsTTY: false, f: {stdin: false}, stdin: false, tty: false},
  ])('$name', ({command, stdinIsTTY, stdinHasData, stdoutIsTTY, f, stdin, tty}) => {
    expect(plan({command, stdinIsTTY, stdinHasData, stdoutIsTTY, flags: flags(f)}).streams).toMatchObject({stdin, tty})
  })
})

describe('image choice', () => {
  it.each([
    {name: 'default', f: {}, env: {}, image: DEFAULT_IMAGE, source: 'default'},
    {name: 'MINDBG_IMAGE', f: {}, env: {MINDBG_IMAGE: 'local/bb:1'}, image: 'local/bb:1', source: 'MINDBG_IMAGE'},
    {name: '--image beats MINDBG_IMAGE', f: {image: 'nicolaka/netshoot'}, env: {MINDBG_IMAGE: 'local/bb:1'}, image: 'nicolaka/netshoot', source: 'flag'},
  ])('$name', ({f, env, image, source}) => {
    expect(plan({flags: flags(f), env}).request).toMatchObject({image, imageSource: source})
  })
})

describe('validation: usage errors before anything is created', () => {
  it.each([
    {name: 'missing target', over: {targetArg: undefined}, message: /missing target/},
    {name: 'unknown profile', over: {flags: flags({profile: 'root'})}, message: /unknown profile/},
    {name: 'bad pull policy', over: {flags: flags({pull: 'sometimes'})}, message: /--pull/},
    {name: 'bad env', over: {flags: flags({env: ['=x']})}, message: /bad --env/},
    {name: 'env key with space', over: {flags: flags({env: ['A B=1']})}, message: /bad --env/},
    {name: 'env copied but unset', over: {flags: flags({env: ['NOPE']})}, message: /not set/},
    {name: 'unknown capability', over: {flags: flags({'cap-add': ['SYS_PTRACY']})}, message: /unknown capability/},
    {name: 'restricted + privileged', over: {flags: flags({profile: 'restricted', privileged: true})}, message: /conflicts/},
    {name: 'restricted + cap-add', over: {flags: flags({profile: 'restricted', 'cap-add': ['NET_ADMIN']})}, message: /conflicts/},
    {name: 'restricted + root user', over: {flags: flags({profile: 'restricted', user: '0'})}, message: /conflicts/},
    {name: 'restricted + chroot', over: {flags: flags({profile: 'restricted', chroot: true})}, message: /CAP_SYS_CHROOT/},
    {name: 'chroot + non-root user', over: {flags: flags({chroot: true, user: '1000'})}, message: /root user/},
    {name: 'relative workdir', over: {flags: flags({workdir: 'tmp'})}, message: /absolute/},
    {name: 'bad name', over: {flags: flags({name: '-x'})}, message: /bad --name/},
    {name: 'multi-line reason', over: {flags: flags({reason: 'a\nb'})}, message: /single line/},
    {name: 'bad detach keys', over: {flags: flags({'detach-keys': 'alt-x'})}, message: /detach-keys/},
    {name: '-t without a terminal', over: {stdinIsTTY: false, flags: flags({tty: true})}, message: /terminal/},
    {name: 'session + image', over: {targetArg: undefined, flags: flags({session: 's', image: 'x'})}, message: /--session .* --image/},
    {name: 'session + target', over: {flags: flags({session: 's'})}, message: /no target/},
    {name: 'bad target', over: {targetArg: 'a b'}, message: /bad container reference/},
  ])('$name', ({over, message}) => {
    let error: unknown
    try {
      planAttach(input(over as Partial<AttachInput>))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(MindbgError)
    expect((error as MindbgError).exitCode).toBe(2)
    expect((error as MindbgError).message).toMatch(message)
  })

  it('keeps the detach keys in both notations and the terminal size for a TTY', () => {
    const p = plan({flags: flags({'detach-keys': 'ctrl-a,x'}), terminalSize: {rows: 40, columns: 120}})
    expect(p.streams).toMatchObject({detachKeys: [1, 120], detachKeysSpec: 'ctrl-a,x', consoleSize: {rows: 40, columns: 120}})
    expect(plan({command: ['ps'], terminalSize: {rows: 40, columns: 120}}).streams.consoleSize).toBeUndefined()
  })

  it('normalises capabilities and copies env from the caller', () => {
    const p = plan({flags: flags({'cap-add': ['cap_net_admin', 'sys_ptrace'], env: ['A=1', 'HOME', 'B=x=y']}), env: {HOME: '/root'}})
    expect(p.request.capAdd).toEqual(['NET_ADMIN', 'SYS_PTRACE'])
    expect(p.request.env).toEqual(['A=1', 'HOME=/root', 'B=x=y'])
  })

  it('re-attach takes only a session name', () => {
    expect(planAttach(input({targetArg: undefined, flags: flags({session: 'mindbg-web-abcde'})}))).toMatchObject({kind: 'reattach', session: 'mindbg-web-abcde'})
  })
})
