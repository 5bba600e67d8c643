import {describe, expect, it} from 'vitest'

import {formatImageReference, parseImageReference} from '../../src/images/reference.js'
import {siblingImage} from '../../src/images/sibling.js'

describe('parseImageReference', () => {
  it.each([
    ['busybox', {registry: undefined, path: 'busybox', tag: undefined, digest: undefined}],
    ['busybox:1.37.0-musl', {registry: undefined, path: 'busybox', tag: '1.37.0-musl', digest: undefined}],
    ['library/busybox:1', {registry: undefined, path: 'library/busybox', tag: '1', digest: undefined}],
    ['localhost/app', {registry: 'localhost', path: 'app', tag: undefined, digest: undefined}],
    ['registry.local:5000/team/app:v2', {registry: 'registry.local:5000', path: 'team/app', tag: 'v2', digest: undefined}],
    ['127.0.0.1:5000/a/b/c@sha256:abc', {registry: '127.0.0.1:5000', path: 'a/b/c', tag: undefined, digest: 'sha256:abc'}],
    ['gcr.io/distroless/static-debian12:nonroot@sha256:abc', {registry: 'gcr.io', path: 'distroless/static-debian12', tag: 'nonroot', digest: 'sha256:abc'}],
  ])('%s', (ref, parsed) => {
    expect(parseImageReference(ref)).toEqual(parsed)
    expect(formatImageReference(parseImageReference(ref))).toBe(ref)
  })
})

describe('siblingImage', () => {
  it.each([
    ['gcr.io/distroless/static-debian12', 'gcr.io/distroless/static-debian12:debug', false],
    ['gcr.io/distroless/static-debian12:latest', 'gcr.io/distroless/static-debian12:debug', false],
    ['gcr.io/distroless/static-debian12:nonroot', 'gcr.io/distroless/static-debian12:debug-nonroot', true],
    ['gcr.io/distroless/java17-debian12:nonroot-amd64', 'gcr.io/distroless/java17-debian12:debug-nonroot-amd64', true],
    ['gcr.io/distroless/base-debian12:latest-arm64', 'gcr.io/distroless/base-debian12:debug-arm64', false],
    ['gcr.io/distroless/python3-debian12:debug', 'gcr.io/distroless/python3-debian12:debug', false],
    ['gcr.io/distroless/cc-debian12:debug-nonroot', 'gcr.io/distroless/cc-debian12:debug-nonroot', true],
    ['gcr.io/distroless/nodejs22-debian12:nonroot@sha256:0123', 'gcr.io/distroless/nodejs22-debian12:debug-nonroot', true],
    ['cgr.dev/chainguard/python', 'cgr.dev/chainguard/python:latest-dev', false],
    ['cgr.dev/chainguard/python:latest', 'cgr.dev/chainguard/python:latest-dev', false],
    ['cgr.dev/acme.com/node:22', 'cgr.dev/acme.com/node:22-dev', false],
    ['cgr.dev/chainguard/go:latest-dev', 'cgr.dev/chainguard/go:latest-dev', false],
    ['chainguard/nginx:latest', 'chainguard/nginx:latest-dev', false],
  ])('%s -> %s', (image, twin, nonRoot) => {
    expect(siblingImage(image)).toMatchObject({image: twin, nonRoot})
  })

  it.each(['nginx:1.27', 'registry.local:5000/team/app:v2', 'docker.io/library/alpine', 'gcr.io/other/distroless:latest'])('no twin for %s', (image) => {
    expect(() => siblingImage(image)).toThrow(/no known debug twin.*/)
  })

  it('a digest without a tag cannot be mapped', () => {
    expect(() => siblingImage('gcr.io/distroless/static-debian12@sha256:0123')).toThrow(/pinned by digest/)
  })

  it('user mappings come first, with capture groups', () => {
    const mappings = [{match: 'registry\\.local:5000/(.+):(.+)', replace: 'registry.local:5000/$1-debug:$2'}]
    expect(siblingImage('registry.local:5000/team/app:v2', mappings)).toMatchObject({image: 'registry.local:5000/team/app-debug:v2', rule: expect.stringContaining('config mapping')})
    expect(siblingImage('gcr.io/distroless/static-debian12:nonroot', mappings).image).toBe('gcr.io/distroless/static-debian12:debug-nonroot')
  })
})
