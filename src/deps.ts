import type {KubeConfig} from '@kubernetes/client-node'
import type Dockerode from 'dockerode'
import type {WebSocket} from 'ws'

/**
 * The one lazy loader for every heavy module mindbg uses (as heroku's deps.ts): each is imported on first use and
 * only once, so `mindbg --help` loads none of them and a Docker session never loads the Kubernetes client.
 * dockerode and client-node's KubeConfig come from the single-file bundles that build/vendor.mjs makes
 * (package.json "imports"): ~15 ms and ~40 ms instead of ~140 ms and ~800 ms; yaml likewise (~10 ms, not ~40).
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined
  return () => (loaded ??= load())
}

export const deps = {
  dockerode: lazy(() => import('#dockerode').then((m: {default: typeof Dockerode}) => m.default)),
  /** Only for the kubeconfigs that src/backends/kubernetes/kubeconfig.ts does not read itself (exec plugins...). */
  kubeConfig: lazy(() => (import('#k8s') as unknown as Promise<{KubeConfig: typeof KubeConfig}>).then((m) => m.KubeConfig)),
  /** js-yaml's load (the parser KubeConfig uses too), bundled on its own: for kubeconfig files. */
  kubeconfigYaml: lazy(() => (import('#js-yaml' as string) as Promise<{load: (text: string) => unknown}>).then((m) => m.load)),
  /** ws, bundled on its own: the Kubernetes backend is its only user. */
  ws: lazy(() => import('#ws').then((m: {WebSocket: typeof WebSocket}) => m.WebSocket)),
  // A CommonJS bundle, imported (not required) so that the single executable's bundler sees it too (build/sea.mjs).
  // Node gives its exports as the default (module.exports); vitest, which honours __esModule, as named exports.
  yaml: lazy(() => import('#yaml').then((m: typeof import('yaml') & {default?: typeof import('yaml')}) => (m.default?.parseDocument ? m.default : m))),
  // ~100 ms: only when something slow (a pull) is shown on a terminal.
  ora: lazy(() => import('ora').then((m) => m.default)),
}
