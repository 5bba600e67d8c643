/**
 * Discovery documents: /version, /api, /api/v1 (/apis is in access-review.ts: its only group).
 *
 * kubectl first asks for aggregated discovery (Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...).
 * Answering with plain application/json (APIVersions / APIGroupList) makes client-go fall back to legacy discovery,
 * which then reads /api/v1: simpler, and the path older servers take.
 */
export const VERSION = {
  major: '1',
  minor: '34',
  emulationMajor: '1',
  emulationMinor: '34',
  minCompatibilityMajor: '1',
  minCompatibilityMinor: '33',
  gitVersion: 'v1.34.0-kube-sim',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-08-27T00:00:00Z',
  goVersion: 'go1.24.6',
  compiler: 'gc',
  platform: 'linux/amd64',
}

export const apiVersions = (serverAddress: string): object => ({
  kind: 'APIVersions',
  versions: ['v1'],
  serverAddressByClientCIDRs: [{clientCIDR: '0.0.0.0/0', serverAddress}],
})

/**
 * What a real 1.34 server lists for the resources the simulator serves (verbs, kinds, short names, categories).
 * Subresources it does not serve (binding, eviction, portforward, proxy, resize) are left out rather than advertised.
 */
export function apiResourceList(ephemeralContainers: boolean): object {
  const resources: object[] = [
    {name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace',
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'], storageVersionHash: 'Q3oi5N2YM8M='},
    // Read-only here: the simulator's one node is its own (see nodes-api.ts).
    {name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list', 'watch'], shortNames: ['no'],
      storageVersionHash: 'XwShjMxG9Fs='},
    {name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['po'],
      categories: ['all'], storageVersionHash: 'xPOwRZ+Yhw8='},
    {name: 'pods/attach', singularName: '', namespaced: true, kind: 'PodAttachOptions', verbs: ['create', 'get']},
    {name: 'pods/exec', singularName: '', namespaced: true, kind: 'PodExecOptions', verbs: ['create', 'get']},
    {name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get']},
    // Real servers also allow patch/update on pods/status (kubelet writes); here the Docker backing owns status.
    {name: 'pods/status', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get']},
  ]
  if (ephemeralContainers) {
    resources.splice(resources.findIndex((r) => (r as {name: string}).name === 'pods/exec'), 0, {name: 'pods/ephemeralcontainers', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get', 'patch', 'update']})
  }
  return {kind: 'APIResourceList', groupVersion: 'v1', resources}
}
