import {mkdirSync, mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {kubeconfigFiles, loadKubeconfig, mergeKubeconfigs} from '../../src/backends/kubernetes/kubeconfig.js'

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
