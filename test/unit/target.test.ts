import {describe, expect, it} from 'vitest'

import {MindbgError} from '../../src/domain/errors.js'
import {parseTarget} from '../../src/domain/target.js'

describe('parseTarget', () => {
  it.each([
    ['web', {runtime: 'docker', ref: 'web'}],
    ['docker://web', {runtime: 'docker', ref: 'web'}],
    ['/web', {runtime: 'docker', ref: 'web'}],
    ['3f2a9c', {runtime: 'docker', ref: '3f2a9c'}],
    ['my_app.v2-1', {runtime: 'docker', ref: 'my_app.v2-1'}],
    ['pod/api', {runtime: 'kubernetes', pod: 'api'}],
    ['pod/api/app', {runtime: 'kubernetes', pod: 'api', container: 'app'}],
    ['pods/api', {runtime: 'kubernetes', pod: 'api'}],
    ['k8s://prod/api', {runtime: 'kubernetes', namespace: 'prod', pod: 'api'}],
    ['kubernetes://prod/api/app', {runtime: 'kubernetes', namespace: 'prod', pod: 'api', container: 'app'}],
    ['image://gcr.io/distroless/static:nonroot', {runtime: 'docker', ref: 'gcr.io/distroless/static:nonroot', image: true}],
    ['image://busybox', {runtime: 'docker', ref: 'busybox', image: true}],
    ['node/worker-1', {runtime: 'kubernetes', node: 'worker-1'}],
    ['nodes/ip-10-0-1-23.eu-west-1.compute.internal', {runtime: 'kubernetes', node: 'ip-10-0-1-23.eu-west-1.compute.internal'}],
  ])('%s', (input, expected) => {
    expect(parseTarget(input)).toEqual(expected)
  })

  it('node/NAME is a node for kubectl mindbg too (bare names are pods there)', () => {
    expect(parseTarget('node/worker-1', 'kubernetes')).toEqual({runtime: 'kubernetes', node: 'worker-1'})
  })

  it.each(['', '  ', 'docker://', 'image://', 'image://Bad Ref', 'we b', 'web/x', '-web', 'pod/', 'pod/a/b/c', 'k8s://prod', 'k8s://Prod/api', 'pod/API', 'node/', 'node/a/b', 'node/Worker'])(
    'rejects %j as a usage error',
    (input) => {
      let error: unknown
      try {
        parseTarget(input)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(MindbgError)
      expect((error as MindbgError).exitCode).toBe(2)
      expect((error as MindbgError).hint).toBeTruthy()
    },
  )
})
