import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {deps} from '../../src/deps.js'
import {directConnection, directRequestOptions, type KubeconfigFile, kubeconfigFiles, loadKubeconfig, mergeKubeconfigs} from '../../src/backends/kubernetes/kubeconfig.js'

/** client-go's merging rules (clientcmd loader), one per row. */
describe('mergeKubeconfigs', () => {
  const cluster = (name: string, server: string) => ({name, cluster: {server}})
  const context = (name: string, clusterName: string, namespace?: string) => ({name, context: {cluster: clusterName, user: 'u', ...(namespace ? {namespace} : {})}})

  it.each([
    {
      rule: 'the first file that sets current-context wins',
      files: [{'current-context': 'a'}, {'current-context': 'b'}],
      expect: {'current-context': 'a'},
    },
    {
      rule: 'a file without current-context does not hide a later one',
      files: [{clusters: [cluster('c1', 'https://one')]}, {'current-context': 'b'}],
      expect: {'current-context': 'b'},
    },
    {
      rule: 'a cluster defined twice: the first definition wins, no error',
      files: [{clusters: [cluster('sim', 'https://first')]}, {clusters: [cluster('sim', 'https://second'), cluster('other', 'https://o')]}],
      expect: {clusters: [cluster('sim', 'https://first'), cluster('other', 'https://o')]},
    },
    {
      rule: 'a context defined twice: the first wins, with its namespace',
      files: [{contexts: [context('x', 'sim', 'alpha')]}, {contexts: [context('x', 'sim', 'beta')]}],
      expect: {contexts: [context('x', 'sim', 'alpha')]},
    },
    {
      rule: 'users merge by name the same way',
      files: [{users: [{name: 'u', user: {token: 'one'}}]}, {users: [{name: 'u', user: {token: 'two'}}, {name: 'v', user: {token: 'three'}}]}],
      expect: {users: [{name: 'u', user: {token: 'one'}}, {name: 'v', user: {token: 'three'}}]},
    },
  ])('$rule', ({files, expect: expected}) => {
    const merged = mergeKubeconfigs(files.map((config, i) => ({path: `/k/${i}/config`, config: config as never})))
    expect(merged).toMatchObject(expected)
  })

  it('relative paths are resolved against the file that holds them, absolute ones kept', () => {
    const merged = mergeKubeconfigs([
      {path: '/home/a/.kube/config', config: {clusters: [{name: 'c', cluster: {server: 's', 'certificate-authority': 'ca.pem'}}], users: [{name: 'u', user: {'client-certificate': 'certs/u.crt', 'client-key': '/abs/u.key', tokenFile: '../tok'}}]}},
    ])
    expect(merged.clusters?.[0]?.cluster['certificate-authority']).toBe('/home/a/.kube/ca.pem')
    expect(merged.users?.[0]?.user).toMatchObject({'client-certificate': '/home/a/.kube/certs/u.crt', 'client-key': '/abs/u.key', tokenFile: '/home/a/tok'})
  })
})

describe('kubeconfigFiles and loadKubeconfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-kc-'))
  const a = join(dir, 'a.yaml')
  const b = join(dir, 'b.yaml')
  writeFileSync(a, "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u, namespace: alpha}}]\n")
  writeFileSync(b, "current-context: b\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {tokenFile: tok}}]\n")
  writeFileSync(join(dir, 'tok'), 'secret-token\n')

  it('KUBECONFIG: every file in order, missing ones skipped (kubectl does)', () => {
    expect(kubeconfigFiles(undefined, {KUBECONFIG: `${a}:${join(dir, 'missing')}:${b}`})).toEqual([a, b])
  })

  it('--kubeconfig must exist', () => {
    expect(() => kubeconfigFiles(join(dir, 'missing'), {})).toThrow(/does not exist/)
  })

  it('~/.kube/config when nothing else is named', () => {
    mkdirSync(join(dir, 'home', '.kube'), {recursive: true})
    writeFileSync(join(dir, 'home', '.kube', 'config'), '{}\n')
    expect(kubeconfigFiles(undefined, {HOME: join(dir, 'home')})).toEqual([join(dir, 'home', '.kube', 'config')])
  })

  it('merges, and reads a tokenFile (relative to its kubeconfig) into the token', async () => {
    const merged = await loadKubeconfig(undefined, {KUBECONFIG: `${a}:${b}`})
    expect(merged['current-context']).toBe('a')
    expect(merged.users?.[0]?.user).toMatchObject({tokenFile: join(dir, 'tok'), token: 'secret-token'})
  })
})

/**
 * mindbg reads the common kubeconfigs itself (the client library costs ~40 ms to load); what it makes of each must be
 * what the library's KubeConfig makes of it: every row runs through both and the two are compared.
 */
describe('directConnection: what KubeConfig would make of the kubeconfig, without loading it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mindbg-direct-'))
  const file = (name: string, content: string): string => {
    writeFileSync(join(dir, name), content)
    return join(dir, name)
  }
  const b64 = (text: string): string => Buffer.from(text).toString('base64')
  const caFile = file('ca.pem', 'CA FROM FILE')
  const certFile = file('u.crt', 'CERT FROM FILE')
  const keyFile = file('u.key', 'KEY FROM FILE')
  const config = (cluster: Record<string, unknown>, user: Record<string, unknown> | undefined, extra: Partial<KubeconfigFile> = {}): KubeconfigFile =>
    mergeKubeconfigs([
      {
        path: join(dir, 'config'),
        config: {
          'current-context': 'main',
          clusters: [{name: 'c', cluster: {server: 'https://api.example:6443/', ...cluster}}, {name: 'other', cluster: {server: 'https://other:1'}}],
          contexts: [
            {name: 'main', context: {cluster: 'c', ...(user ? {user: 'u'} : {}), namespace: 'team'}},
            {name: 'second', context: {cluster: 'other', user: 'u'}},
          ],
          users: user ? [{name: 'u', user}] : [],
          ...extra,
        },
      },
    ])

  it.each([
    {what: 'a token and inline CA data', cluster: {'certificate-authority-data': b64('CA')}, user: {token: 'abc'}},
    {what: 'client certificate and key data', cluster: {'certificate-authority-data': b64('CA')}, user: {'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY')}},
    {what: 'files (a file wins over data)', cluster: {'certificate-authority': caFile, 'certificate-authority-data': b64('CA')}, user: {'client-certificate': certFile, 'client-key': keyFile, 'client-key-data': b64('KEY')}},
    {what: 'insecure-skip-tls-verify and tls-server-name', cluster: {'insecure-skip-tls-verify': true, 'tls-server-name': 'kubernetes'}, user: {token: 't'}},
    {what: 'insecure-skip-tls-verify other than true', cluster: {'insecure-skip-tls-verify': 'yes'}, user: {token: 't'}},
    {what: 'basic auth', cluster: {}, user: {username: 'admin', password: 'pw'}},
    {what: 'a username without password', cluster: {}, user: {username: 'admin'}},
    {what: 'impersonation, and a token', cluster: {}, user: {token: 't', as: 'jane'}},
    {what: 'impersonation with an empty name', cluster: {}, user: {as: ''}},
    {what: 'an empty user', cluster: {'certificate-authority-data': b64('CA')}, user: {}},
    {what: 'the second context', cluster: {}, user: {token: 't'}, context: 'second'},
  ])('$what', async ({cluster, user, context}) => {
    const merged = config(cluster, user)
    const KubeConfig = await deps.kubeConfig()
    const kc = new KubeConfig()
    kc.loadFromString(JSON.stringify(merged))
    if (context) kc.setCurrentContext(context)
    const theirs: Record<string, unknown> = {headers: {}}
    await kc.applyToHTTPSOptions(theirs)
    delete theirs.agent
    const direct = directConnection(merged, context)
    if (direct === 'client') throw new Error('expected a direct connection')
    const {headers, ...tls} = directRequestOptions(direct, true)
    expect({...tls, headers}).toEqual(theirs)
    expect(direct.context).toBe(kc.getCurrentContext())
    expect(direct.namespace).toBe(kc.getContextObject(kc.getCurrentContext())?.namespace)
    expect(direct.cluster?.server).toBe(kc.getCurrentCluster()?.server)
    // Plain HTTP: the credentials, no basic auth option (as applyOptions).
    const plain: Record<string, unknown> = {headers: {}}
    await (kc as unknown as {applyOptions(o: object): Promise<void>}).applyOptions(plain)
    const {headers: plainHeaders, ...plainTls} = directRequestOptions(direct, false)
    expect({...plainTls, headers: plainHeaders}).toEqual(plain)
  })

  it.each([
    {what: 'an exec credential plugin', user: {exec: {command: 'aws', apiVersion: 'client.authentication.k8s.io/v1'}}},
    {what: 'an auth provider', user: {'auth-provider': {name: 'oidc', config: {}}}},
    {what: "the library's token-file", user: {'token-file': '/var/run/token'}},
    {what: 'a context whose user is not defined (the library then applies no TLS settings)', user: undefined},
  ])('left to the client library: $what', ({user}) => {
    expect(directConnection(config({}, user), undefined)).toBe('client')
  })

  it('left to the client library: a proxy-url', () => {
    expect(directConnection(config({'proxy-url': 'socks5://127.0.0.1:1080'}, {token: 't'}), undefined)).toBe('client')
  })

  it.each([
    {what: 'a cluster without server', merged: config({}, {token: 't'}, {clusters: [{name: 'c', cluster: {}}]})},
    {what: 'a context without cluster', merged: config({}, {token: 't'}, {contexts: [{name: 'main', context: {user: 'u'}}]})},
  ])('fails as the library does: $what', async ({merged}) => {
    const KubeConfig = await deps.kubeConfig()
    let theirs = ''
    try {
      new KubeConfig().loadFromString(JSON.stringify(merged))
    } catch (error) {
      theirs = (error as Error).message
    }
    expect(theirs).not.toBe('')
    expect(() => directConnection(merged, undefined)).toThrow(theirs)
  })

  it('a --context that is not there, and a current context that names no cluster', () => {
    expect(() => directConnection(config({}, {token: 't'}), 'nope')).toThrow('context "nope" is not in the kubeconfig')
    const dangling = directConnection(config({}, {token: 't'}, {'current-context': 'gone'}), undefined)
    expect(dangling).toMatchObject({context: 'gone', cluster: undefined})
  })
})
