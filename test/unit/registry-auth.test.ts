import {chmodSync, mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {parseImageReference} from '../../src/images/reference.js'
import {registryAuth} from '../../src/images/registry-auth.js'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

function dockerConfig(content: object, helpers: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-dockercfg-'))
  writeFileSync(join(dir, 'config.json'), JSON.stringify(content))
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  for (const [name, script] of Object.entries(helpers)) {
    writeFileSync(join(bin, `docker-credential-${name}`), `#!/bin/sh\n${script}\n`)
    chmodSync(join(bin, `docker-credential-${name}`), 0o755)
  }
  return {DOCKER_CONFIG: dir, PATH: `${bin}:${process.env.PATH}`}
}

describe('registryAuth', () => {
  const ref = (r: string) => parseImageReference(r)

  it.each([
    {name: 'auths entry', image: 'registry.local:5000/tools/bb:1', config: {auths: {'registry.local:5000': {auth: b64('alice:s3:cret')}}}, auth: {username: 'alice', password: 's3:cret', serveraddress: 'registry.local:5000'}},
    {name: 'auths entry written as URL', image: 'registry.local/bb', config: {auths: {'https://registry.local': {auth: b64('bob:pw')}}}, auth: {username: 'bob', password: 'pw', serveraddress: 'registry.local'}},
    {name: 'Docker Hub legacy key', image: 'acme/debug:1', config: {auths: {'https://index.docker.io/v1/': {auth: b64('carol:pw')}}}, auth: {username: 'carol', password: 'pw', serveraddress: 'https://index.docker.io/v1/'}},
    {name: 'identity token', image: 'registry.local/bb', config: {auths: {'registry.local': {identitytoken: 'tok'}}}, auth: {identitytoken: 'tok', serveraddress: 'registry.local'}},
    {name: 'other registry only', image: 'gcr.io/distroless/static:debug', config: {auths: {'registry.local': {auth: b64('x:y')}}}, auth: undefined},
  ])('$name', async ({image, config, auth}) => {
    expect(await registryAuth(ref(image), dockerConfig(config))).toEqual(auth)
  })

  it('uses a credential helper for its registry (host on stdin, JSON out)', async () => {
    const env = dockerConfig({credHelpers: {'gcr.io': 'mindbgtest'}}, {mindbgtest: 'read host; echo "{\\"ServerURL\\":\\"$host\\",\\"Username\\":\\"helper-$host\\",\\"Secret\\":\\"pw\\"}"'})
    expect(await registryAuth(ref('gcr.io/distroless/static:debug'), env)).toEqual({username: 'helper-gcr.io', password: 'pw', serveraddress: 'gcr.io'})
  })

  it('uses the default credential store, and <token> means an identity token', async () => {
    const env = dockerConfig({credsStore: 'store', auths: {'registry.local': {}}}, {store: 'echo \'{"Username":"<token>","Secret":"idt"}\''})
    expect(await registryAuth(ref('registry.local/bb'), env)).toEqual({identitytoken: 'idt', serveraddress: 'registry.local'})
  })

  it('a failing helper or no config file means anonymous', async () => {
    expect(await registryAuth(ref('registry.local/bb'), dockerConfig({credsStore: 'broken'}, {broken: 'exit 1'}))).toBeUndefined()
    expect(await registryAuth(ref('registry.local/bb'), {DOCKER_CONFIG: '/nonexistent'})).toBeUndefined()
  })
})
