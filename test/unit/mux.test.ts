import {describe, expect, it} from 'vitest'

import {frame, FrameReader, openPayload} from '../../src/backends/docker/mux.js'
import {buildSharedSpec} from '../../src/backends/docker/spec.js'

describe('mux frames', () => {
  const frames = [frame(1, 5, Buffer.from('hello')), frame(2, 6, Buffer.alloc(0)), frame(300, 7, Buffer.from([3, 0, 0, 0])), frame(4, 5, Buffer.alloc(65536, 7))]
  const all = Buffer.concat(frames)
  it.each([1, 3, 8, 9, 100, all.length])('reads them back whatever the chunks (%i bytes)', (size) => {
    const got: Array<[number, number, string]> = []
    const reader = new FrameReader((session, kind, payload) => got.push([session, kind, payload.toString('hex')]))
    for (let at = 0; at < all.length; at += size) reader.push(all.subarray(at, at + size))
    expect(got).toEqual([
      [1, 5, Buffer.from('hello').toString('hex')],
      [2, 6, ''],
      [300, 7, '03000000'],
      [4, 5, Buffer.alloc(65536, 7).toString('hex')],
    ])
  })
  it('lays OPEN out as the init reads it: PID, environment, an empty word, the command', () => {
    expect(openPayload(42, ['A=1', 'B=2'], ['sh', '-c', 'x']).toString()).toBe('42\0A=1\0B=2\0\0sh\0-c\0x\0')
    expect(openPayload(7, [], ['true']).toString()).toBe('7\0\0true\0')
  })
})

describe('buildSharedSpec', () => {
  const spec = buildSharedSpec({image: 'busybox', name: 'mindbg-shared-abcde', identity: {user: 'u@h', startedAt: '2026-01-01T00:00:00.000Z', version: '1', reason: undefined}, owner: 'h:1', initSource: '/x/init', platform: undefined})
  it.each([
    ['the host PID namespace, no network', {PidMode: 'host', NetworkMode: 'none'}],
    ['what entering takes, nothing more', {CapAdd: ['SYS_ADMIN', 'SYS_PTRACE'], Privileged: false}],
    ['removed by the engine when it ends', {AutoRemove: true}],
  ])('%s', (_what, host) => expect(spec.HostConfig).toMatchObject(host))
  it('runs the mux with its stdin ending with the attach', () => {
    expect(spec).toMatchObject({Entrypoint: ['/.mindbg-init', '--mux'], OpenStdin: true, StdinOnce: true, AttachStdin: true})
    expect(spec.HostConfig?.Mounts).toEqual([{Type: 'bind', Source: '/x/init', Target: '/.mindbg-init', ReadOnly: true}])
  })
  it('is labelled a shared debugger of its owner, never of one target', () => {
    expect(spec.Labels).toMatchObject({'org.mindbg.sidecar': 'true', 'org.mindbg.shared': '1', 'org.mindbg.owner': 'h:1'})
    expect(spec.Labels?.['org.mindbg.target']).toBeUndefined()
  })
})
