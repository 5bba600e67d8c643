import {existsSync} from 'node:fs'

import {defineConfig} from 'vitest/config'

/**
 * The end-to-end files that exercise the Docker backend, run a second time against Podman's Docker-compatible
 * service (scripts/provision.sh starts it), within about 4 minutes. Not run there: pull (a registry the engine pulls
 * from), ssh (an sshd in front of dockerd), the kube* files (another backend), images (Podman 4.3's compatible API
 * fails `docker commit`, and pulls from a plain-HTTP loopback registry only when configured to; engines.test.ts covers
 * --sibling on both), bad-input (flags and DOCKER_HOST parsing, the same whatever the engine), run and reliability
 * (3.5 and 1.2 minutes more: the CI budget cannot pay for them twice).
 */
export const PODMAN_FILES = [
  'test/e2e/attach.test.ts',
  'test/e2e/engines.test.ts',
  'test/e2e/errors.test.ts',
  'test/e2e/hostile.test.ts',
  'test/e2e/lifecycle.test.ts',
  'test/e2e/repeat.test.ts',
  'test/e2e/shared-debugger.test.ts',
  'test/e2e/startup.test.ts',
  'test/e2e/tty.test.ts',
  'test/e2e/zombies.test.ts',
]

const podmanHost = process.env.MINDBG_PODMAN_HOST || 'unix:///run/podman/podman.sock'
// In CI the Podman pass always runs, and fails loudly (test/e2e/helpers.ts requireEngine) when Podman is missing;
// on a developer's machine without Podman it is left out, and said so.
const withPodman = process.env.CI === 'true' || process.env.MINDBG_PODMAN_READY === '1' || existsSync(podmanHost.replace(/^unix:\/\//, ''))
if (!withPodman) process.stderr.write(`vitest: no Podman service at ${podmanHost}: the podman project is left out (scripts/provision.sh starts one)\n`)

export default defineConfig({
  test: {
    // End-to-end files share one Docker engine and a 2-core machine: run files one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
    projects: [
      {extends: true, test: {name: 'docker', include: ['test/**/*.test.ts']}},
      ...(withPodman ? [{extends: true, test: {name: 'podman', include: PODMAN_FILES, env: {MINDBG_ENGINE: 'podman', DOCKER_HOST: podmanHost}}}] : []),
    ],
  },
})
