/** Kubeconfig files for the simulator: one cluster, one user (bearer token), one context, namespace default. */
import {renameSync, writeFileSync} from 'node:fs'
import {stringify} from 'yaml'

export interface KubeconfigInput {
  server: string
  caPem: string
  user: string
  token: string
  namespace: string
}

export function kubeconfigText(i: KubeconfigInput): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{name: 'kube-sim', cluster: {server: i.server, 'certificate-authority-data': Buffer.from(i.caPem).toString('base64')}}],
    users: [{name: i.user, user: {token: i.token}}],
    contexts: [{name: `${i.user}@kube-sim`, context: {cluster: 'kube-sim', user: i.user, namespace: i.namespace}}],
    'current-context': `${i.user}@kube-sim`,
    preferences: {},
  })
}

/** Writes atomically (temp file + rename) so a reader never sees half a file. Mode 0600: it holds a token. */
export function writeKubeconfigFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`
  writeFileSync(tmp, text, {mode: 0o600})
  renameSync(tmp, path)
}
