/**
 * What the Docker backend must do alike on every engine it speaks to (Docker, Podman's compatible service): each case
 * here once behaved differently on Podman 4.3 (issue #12). Runs in both vitest projects.
 */
import {describe, expect, it} from 'vitest'

import {BUSYBOX, collect, DISTROLESS, docker, dockerOk, ENGINE_CLI, mindbg, sharedTarget, sidecarsOf, startMindbg, startTarget, waitFor} from './helpers.js'

const web = sharedTarget()

describe('the same on every engine', () => {
  it('a taken --name: exit 2 and one clear line, nothing created', async () => {
    const taken = startTarget()
    const r = await mindbg(['attach', '--name', taken, web(), '--', 'true'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toBe(`mindbg: the name ${taken} is already in use\nHint: Pick another --name, or remove the old container (${ENGINE_CLI} rm -f ${taken}, or mindbg prune for a sidecar).\n`)
    expect(sidecarsOf(web())).toEqual([])
  })

  it('hints name the engine\'s own CLI', async () => {
    // A stopped target is debugged on a snapshot now; a paused one is still refused, with how to unpause it.
    const paused = startTarget()
    docker('pause', paused)
    try {
      const r = await mindbg(['attach', paused, '--', 'true'])
      expect(r.code).toBe(114)
      expect(r.stderr).toContain(`Unpause it first: ${ENGINE_CLI} unpause ${paused}`)
    } finally {
      docker('unpause', paused)
    }
    const missing = await mindbg(['attach', '--image', 'mindbg-test/absent:1', '--pull', 'never', web(), '--', 'true'])
    expect(missing.code).toBe(117)
    expect(missing.stderr).toContain(`Load it with "${ENGINE_CLI} load -i FILE"`)
  })

  it('--sibling for a target started by image ID: the twin of any of its tags', async () => {
    // The fixture under a second, distroless name: a target started by ID runs an image whose first name has no twin.
    // Docker keeps the ID as the target's Config.Image, Podman that first name: mindbg must look at every tag.
    const repo = `gcr.io/distroless/mindbg-e2e-${process.pid}`
    docker('tag', DISTROLESS, `${repo}:nonroot`)
    docker('tag', BUSYBOX, `${repo}:debug-nonroot`)
    const target = startTarget([], docker('image', 'inspect', '--format', '{{.Id}}', DISTROLESS))
    try {
      const dry = await mindbg(['attach', '--sibling', '--dry-run', '--json', target])
      expect(dry.code, dry.stderr).toBe(0)
      expect(JSON.parse(dry.stdout)).toMatchObject({image: `${repo}:debug-nonroot`, user: '65532:65532'})
      const r = await mindbg(['attach', '--sibling', target, '--', 'id', '-u'])
      expect(r.stdout, r.stderr).toBe('65532\n')
    } finally {
      dockerOk('rm', '-f', target)
      for (const tag of ['nonroot', 'debug-nonroot']) dockerOk('rmi', `${repo}:${tag}`)
    }
  })

  it('SIGTERM at any moment of the start: 143, never an engine error, nothing left', {timeout: 120_000}, async () => {
    // From the moment the sidecar exists: the signal lands between the copy of mindbg-init, attach, start and the
    // first output, each run at another delay.
    for (const delayMs of [0, 20, 50, 100, 200]) {
      const child = startMindbg(['attach', web(), '--', 'sleep', '30'])
      const done = collect(child)
      await waitFor('the sidecar', () => sidecarsOf(web()).length > 0, 15_000, 5)
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      child.kill('SIGTERM')
      const r = await done
      expect(r.code, `SIGTERM ${delayMs} ms after the create: ${r.stderr}`).toBe(143)
      expect(r.stderr).not.toMatch(/no such container|engine answered/i)
      await waitFor('no sidecar', () => sidecarsOf(web()).length === 0, 10_000)
    }
  })
})
