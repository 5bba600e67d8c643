import {createHash} from 'node:crypto'
import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {contextEndpoint, dockerConfigDir, dockerContextName} from '../../src/backends/docker/context.js'
import {MindbgError} from '../../src/domain/errors.js'

/** A docker config directory laid out as the docker CLI writes it (docker context create). */
function configDir(current: string | undefined, contexts: Record<string, {host?: string; skip?: boolean; tls?: string[]}>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-docker-config-'))
  if (current !== undefined) writeFileSync(join(dir, 'config.json'), JSON.stringify({auths: {}, currentContext: current}))
  for (const [name, c] of Object.entries(contexts)) {
    const id = createHash('sha256').update(name).digest('hex')
    mkdirSync(join(dir, 'contexts', 'meta', id), {recursive: true})
    const docker = c.host === undefined ? {} : {docker: {Host: c.host, SkipTLSVerify: c.skip ?? false}}
    writeFileSync(join(dir, 'contexts', 'meta', id, 'meta.json'), JSON.stringify({Name: name, Metadata: {}, Endpoints: docker}))
    for (const file of c.tls ?? []) {
      mkdirSync(join(dir, 'contexts', 'tls', id, 'docker'), {recursive: true})
      writeFileSync(join(dir, 'contexts', 'tls', id, 'docker', file), 'PEM')
    }
  }
  return dir
}

const dir = configDir('current', {current: {host: 'unix:///run/current.sock'}, other: {host: 'tcp://10.0.0.1:2376', tls: ['ca.pem', 'cert.pem', 'key.pem']}, insecure: {host: 'tcp://10.0.0.2:2376', skip: true}, empty: {}})
const noConfig = mkdtempSync(join(tmpdir(), 'mindbg-docker-config-'))

describe('which context: the docker CLI precedence (DOCKER_HOST > DOCKER_CONTEXT > currentContext > default)', () => {
  it.each([
    {name: 'currentContext of config.json', env: {}, context: 'current'},
    {name: 'DOCKER_CONTEXT over currentContext', env: {DOCKER_CONTEXT: 'other'}, context: 'other'},
    {name: 'DOCKER_HOST over DOCKER_CONTEXT', env: {DOCKER_CONTEXT: 'other', DOCKER_HOST: 'unix:///x.sock'}, context: 'default'},
    {name: 'DOCKER_HOST over currentContext', env: {DOCKER_HOST: 'unix:///x.sock'}, context: 'default'},
    {name: 'an empty DOCKER_HOST is no DOCKER_HOST', env: {DOCKER_HOST: ''}, context: 'current'},
    {name: 'DOCKER_CONTEXT=default', env: {DOCKER_CONTEXT: 'default'}, context: 'default'},
  ])('$name', ({env, context}) => {
    expect(dockerContextName({DOCKER_CONFIG: dir, ...env})).toBe(context)
  })

  it('no config.json: the default context', () => expect(dockerContextName({DOCKER_CONFIG: noConfig})).toBe('default'))
  it('the config directory is DOCKER_CONFIG, else ~/.docker', () => {
    expect(dockerConfigDir({DOCKER_CONFIG: '/etc/dc', HOME: '/home/u'})).toBe('/etc/dc')
    expect(dockerConfigDir({HOME: '/home/u'})).toBe('/home/u/.docker')
  })
})

describe("a context's endpoint, as the environment docker-modem reads", () => {
  it.each([
    {name: 'the default context changes nothing', env: {DOCKER_CONTEXT: 'default'}, result: {context: 'default', env: {}, skipTLSVerify: false}},
    {name: 'a socket, its TLS settings cleared', env: {DOCKER_TLS_VERIFY: '1'}, result: {context: 'current', env: {DOCKER_HOST: 'unix:///run/current.sock', DOCKER_CERT_PATH: undefined, DOCKER_TLS_VERIFY: undefined}, skipTLSVerify: false}},
    {
      name: 'TLS material from the context store',
      env: {DOCKER_CONTEXT: 'other'},
      result: {context: 'other', env: {DOCKER_HOST: 'tcp://10.0.0.1:2376', DOCKER_CERT_PATH: join(dir, 'contexts/tls', createHash('sha256').update('other').digest('hex'), 'docker'), DOCKER_TLS_VERIFY: '1'}, skipTLSVerify: false},
    },
    {name: 'SkipTLSVerify', env: {DOCKER_CONTEXT: 'insecure'}, result: {context: 'insecure', env: {DOCKER_HOST: 'tcp://10.0.0.2:2376', DOCKER_CERT_PATH: undefined, DOCKER_TLS_VERIFY: '1'}, skipTLSVerify: true}},
  ])('$name', ({env, result}) => {
    expect(contextEndpoint({DOCKER_CONFIG: dir, ...env})).toEqual(result)
  })

  it.each([
    {name: 'an unknown context', env: {DOCKER_CONTEXT: 'nope'}, message: /docker context "nope" is not in .* \(DOCKER_CONTEXT\)/, hint: /docker context ls/},
    {name: 'a context without a Docker endpoint', env: {DOCKER_CONTEXT: 'empty'}, message: /has no Docker endpoint/, hint: /docker context update empty/},
  ])('$name is a usage error with a hint', ({env, message, hint}) => {
    const error = (() => {
      try {
        contextEndpoint({DOCKER_CONFIG: dir, ...env})
      } catch (e) {
        return e as MindbgError
      }
      throw new Error('no error')
    })()
    expect(error).toBeInstanceOf(MindbgError)
    expect(error.exitCode).toBe(2)
    expect(error.message).toMatch(message)
    expect(error.hint).toMatch(hint)
  })

  it('a config.json that is not JSON is a usage error naming it', () => {
    const bad = mkdtempSync(join(tmpdir(), 'mindbg-docker-config-'))
    writeFileSync(join(bad, 'config.json'), '{')
    expect(() => dockerContextName({DOCKER_CONFIG: bad})).toThrow(/config\.json is not JSON/)
  })
})
