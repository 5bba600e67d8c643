/**
 * Bad input never reaches the generic "internal error" path (125): every case below ends with its documented exit
 * code, one `mindbg: …` line and a `Hint: …` line, and creates nothing.
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {allContainerIds, createdSince, mindbg, sharedTarget} from './helpers.js'

const web = sharedTarget()
const WEB = '@WEB' // replaced by the shared target's name

let htmlServer: http.Server
let htmlHost = ''
beforeAll(async () => {
  // A plain web server where DOCKER_HOST points: it answers every request with an HTML page.
  htmlServer = http.createServer((_req, res) => res.writeHead(404, {'Content-Type': 'text/html'}).end('<!DOCTYPE html><html><body>Not Found</body></html>'))
  await new Promise<void>((resolve) => htmlServer.listen(0, '127.0.0.1', resolve))
  htmlHost = `tcp://127.0.0.1:${(htmlServer.address() as AddressInfo).port}`
})
afterAll(() => htmlServer.close())

interface Case {
  args: string[]
  code: number
  message: RegExp
  env?: Record<string, string | undefined>
  input?: string
}

const cases: Case[] = [
  {args: ['attach', '--image', 'a b', WEB, '--', 'true'], code: 2, message: /bad image reference "a b".*white space/},
  {args: ['attach', '--image', 'Bad:Ref', WEB, '--', 'true'], code: 2, message: /bad image reference "Bad:Ref".*lower-case/},
  {args: ['attach', '--image', 'busybox@sha256:zz', WEB, '--', 'true'], code: 2, message: /bad image reference.*digest/},
  {args: ['attach', '--image', 'busybox@sha256:abcd', WEB, '--', 'true'], code: 2, message: /bad image reference/},
  {args: ['attach', WEB, '--', 'true'], env: {MINDBG_IMAGE: 'BusyBox:1'}, code: 2, message: /bad image reference "BusyBox:1" \(the MINDBG_IMAGE environment variable\)/},
  {args: ['attach', '--image', '', WEB, '--', 'true'], code: 2, message: /empty --image/},
  {args: ['attach', '--image', 'busybox:', WEB, '--', 'true'], code: 2, message: /bad image reference/},
  {args: ['attach', '--image', '/busybox', WEB, '--', 'true'], code: 2, message: /bad image reference/},
  {args: ['attach', '--image', 'busybox:-x', WEB, '--', 'true'], code: 2, message: /bad image reference/},
  {args: ['attach', '--profile', 'root', WEB], code: 2, message: /--profile/},
  {args: ['attach', '--pull', 'sometimes', WEB], code: 2, message: /--pull/},
  {args: ['attach', '-e', '=x', WEB, '--', 'true'], code: 2, message: /bad --env/},
  {args: ['attach', '-e', 'A B=1', WEB, '--', 'true'], code: 2, message: /bad --env/},
  {args: ['attach', '-e', 'MINDBG_TEST_UNSET_VAR', WEB, '--', 'true'], code: 2, message: /is not set/},
  {args: ['attach', '--cap-add', 'SYS_PTRACY', WEB, '--', 'true'], code: 2, message: /unknown capability/},
  {args: ['attach', '--profile', 'restricted', '--privileged', WEB, '--', 'true'], code: 2, message: /conflicts/},
  {args: ['attach', '--profile', 'restricted', '--cap-add', 'NET_ADMIN', WEB, '--', 'true'], code: 2, message: /conflicts/},
  ...['0', '00', '0000', '+0', 'root', '0:0'].map((u): Case => ({args: ['attach', '--profile', 'restricted', '-u', u, WEB, '--', 'id'], code: 2, message: /--user root conflicts with --profile restricted/})),
  {args: ['attach', '--profile', 'restricted', '--chroot', WEB, '--', 'true'], code: 2, message: /CAP_SYS_CHROOT/},
  {args: ['attach', '--chroot', '-u', '1000', WEB, '--', 'true'], code: 2, message: /root user/},
  {args: ['attach', '-w', 'tmp', WEB, '--', 'true'], code: 2, message: /absolute path/},
  {args: ['attach', '--name', '-x', WEB, '--', 'true'], code: 2, message: /bad --name|Nonexistent flag|flag/},
  {args: ['attach', '--name', 'a b', WEB, '--', 'true'], code: 2, message: /bad --name/},
  {args: ['attach', '--reason', 'a\nb', WEB, '--', 'true'], code: 2, message: /single line of printable text/},
  {args: ['attach', '--reason', '\u001b]0;pwned\u0007', WEB, '--', 'true'], code: 2, message: /single line of printable text/},
  {args: ['attach', '--reason', 'tab\there', WEB, '--', 'true'], code: 2, message: /printable/},
  {args: ['attach', '--detach-keys', 'alt-x', WEB], code: 2, message: /detach-keys/},
  {args: ['attach', '-t', WEB, '--', 'true'], input: 'x', code: 2, message: /--tty needs a terminal/},
  {args: ['attach', '--session', 's', '--image', 'x', WEB], code: 2, message: /cannot be combined with --image/},
  {args: ['attach', '--session', 's', WEB], code: 2, message: /takes no target/},
  {args: ['attach', '--session', 's', '--reuse'], code: 2, message: /cannot be combined with --reuse/},
  {args: ['attach', '--detach', WEB, '--', 'ps'], code: 2, message: /--detach starts a debugger for later commands and takes none/},
  {args: ['attach', '--end', WEB], code: 2, message: /--end goes with --session NAME/},
  {args: ['attach', '--session', 's', '--end', '--', 'ps'], code: 2, message: /--end takes no command/},
  {args: ['attach', 'a b', '--', 'true'], code: 2, message: /bad container reference/},
  {args: ['attach', '', '--', 'true'], code: 2, message: /empty target/},
  {args: ['attach', 'pod/', '--', 'true'], code: 2, message: /bad Kubernetes target/},
  {args: ['attach', 'k8s://ns', '--', 'true'], code: 2, message: /bad Kubernetes target/},
  {args: ['attach', 'pod/Web', '--', 'true'], code: 2, message: /bad Kubernetes target "pod\/Web"/},
  {args: ['attach', WEB, 'echo', 'a', '--', 'b'], code: 2, message: /would be dropped/},
  {args: ['attach', '--platform', 'linux', WEB, '--', 'true'], code: 2, message: /bad --platform/},
  {args: ['attach', '--timeout', '5s', WEB, '--', 'true'], code: 2, message: /--timeout is for Kubernetes targets/},
  {args: ['attach', '-n', 'prod', WEB, '--', 'true'], code: 2, message: /--namespace is for Kubernetes targets/},
  {args: ['attach', '--chroot', 'pod/web', '--', 'true'], code: 2, message: /--chroot is not available for Kubernetes targets/},
  {args: ['attach', '--sibling', '--image', 'busybox', WEB], code: 2, message: /both choose the debug image/},
  {args: ['attach', '--timeout', 'soon', 'pod/web', '--', 'true'], code: 2, message: /bad --timeout/},
  {args: ['attach', '--bogus', WEB], code: 2, message: /Nonexistent flag/},
  {args: ['attach', WEB, '--', 'true'], env: {DOCKER_HOST: 'tcp://127.0.0.1:99999'}, code: 2, message: /DOCKER_HOST="tcp:\/\/127.0.0.1:99999" has an invalid port/},
  {args: ['attach', WEB, '--', 'true'], env: {DOCKER_HOST: 'docker.sock'}, code: 2, message: /has no scheme/},
  {args: ['ls'], env: {DOCKER_HOST: 'ftp://x'}, code: 2, message: /unknown scheme/},
  {args: ['attach', WEB, '--', 'true'], env: {DOCKER_HOST: '@HTML'}, code: 115, message: /does not answer like a Docker engine/},
  {args: ['attach', WEB, '--', 'true'], env: {DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent-certs'}, code: 115, message: /DOCKER_TLS_VERIFY is set but \/nonexistent-certs\/\w+\.pem is missing/},
  {args: ['attach', 'mindbg-no-such-container', '--', 'true'], code: 112, message: /no container named/},
  {args: ['attach', '--pull', 'never', '--image', 'mindbg-test/not-here:1', WEB, '--', 'true'], code: 117, message: /not present and --pull never/},
  {args: ['attach', WEB, '--', 'true'], env: {MINDBG_CONFIG: '/nonexistent/mindbg.yaml'}, code: 2, message: /config file .* does not exist/},
  // The debug image is here, but not for that platform: said as such, once (was "disappeared ... run again").
  {args: ['attach', '--platform', 'linux/s390x', '--pull', 'never', WEB, '--', 'true'], code: 117, message: /^mindbg: image mindbg-fixture\/busybox:local is not present for linux\/s390x and --pull never forbids pulling it$/},
  {args: ['attach', '--session', 'mindbg-nope-zzzzz'], code: 120, message: /session mindbg-nope-zzzzz/},
]

describe('bad input: its own exit code, a message and a hint, never 125', () => {
  it('covers at least 40 inputs', () => expect(cases.length).toBeGreaterThanOrEqual(40))

  it.each(cases.map((c) => [c.args.join(' ').replaceAll('\n', '\\n').replaceAll('\u001b', '\\e'), c] as const))('%s', async (_name, c) => {
    const before = allContainerIds()
    const args = c.args.map((a) => (a === WEB ? web() : a))
    const env = Object.fromEntries(Object.entries(c.env ?? {}).map(([k, v]) => [k, v === '@HTML' ? htmlHost : v]))
    const r = await mindbg(args, {env, ...(c.input === undefined ? {} : {input: c.input})})
    expect(r.code, r.stderr).toBe(c.code)
    expect(r.stderr).toMatch(/^mindbg: .+$/m)
    expect(r.stderr.split('\n')[0]).toMatch(c.message)
    expect(r.stderr).toMatch(/^Hint: .+$/m)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
    expect(createdSince(before)).toEqual([])
  })
})
