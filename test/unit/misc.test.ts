import {describe, expect, it} from 'vitest'

import {formatAge, formatTable} from '../../src/cli/table.js'
import {orphanReason} from '../../src/backends/docker/backend.js'
import {PullProgress} from '../../src/backends/docker/pull-progress.js'

describe('orphanReason', () => {
  it.each([
    {state: 'running', targetState: 'running', why: undefined},
    {state: 'exited', targetState: 'running', why: 'sidecar exited'},
    {state: 'created', targetState: 'running', why: 'sidecar created'},
    {state: 'running', targetState: 'exited', why: 'target exited'},
    {state: 'running', targetState: 'gone', why: 'target removed'},
  ])('$state / target $targetState', ({state, targetState, why}) => expect(orphanReason({state, targetState})).toBe(why))
})

describe('PullProgress', () => {
  it('sums layers and bytes', () => {
    const p = new PullProgress('busybox:1')
    p.add({id: 'aaaaaaaaaaaa', status: 'Pulling fs layer'})
    p.add({id: 'bbbbbbbbbbbb', status: 'Pulling fs layer'})
    p.add({id: 'aaaaaaaaaaaa', status: 'Downloading', progressDetail: {current: 500_000, total: 1_000_000}})
    expect(p.add({id: 'bbbbbbbbbbbb', status: 'Already exists'})).toBe('Pulling busybox:1: 1/2 layers, 0.5/1.0 MB')
    expect(p.add({id: 'aaaaaaaaaaaa', status: 'Pull complete'})).toBe('Pulling busybox:1: 2/2 layers, 1.0/1.0 MB')
    expect(p.add({status: 'Digest: sha256:abc'})).toBe('Pulling busybox:1: 2/2 layers, 1.0/1.0 MB')
  })
})

describe('table', () => {
  it('aligns columns', () => {
    expect(formatTable(['A', 'BB'], [['xxx', 'y'], ['z', '']])).toBe('A    BB\nxxx  y\nz')
  })
  it.each([
    [5, '5s'],
    [61, '1m'],
    [7200, '2h'],
    [172800, '2d'],
  ])('age %i', (s, text) => expect(formatAge(s)).toBe(text))
})
