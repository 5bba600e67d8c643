import {lazy} from '../deps.js'
import type {Runtime} from '../domain/target.js'
import type {Backend, BackendOptions} from './backend.js'

export type {BackendOptions} from './backend.js'

// Loaded on first use: a Docker session never loads the Kubernetes client, and `--help` neither.
const loaders: Record<Runtime, () => Promise<{connect(options: BackendOptions): Promise<Backend>}>> = {
  docker: lazy(() => import('./docker/backend.js').then((m) => ({connect: () => m.DockerBackend.connect()}))),
  kubernetes: lazy(() => import('./kubernetes/backend.js').then((m) => ({connect: (o: BackendOptions) => m.KubernetesBackend.connect(o)}))),
}

/** The backend for a runtime (the target reference's syntax decides which: src/domain/target.ts), connected. */
export async function connectBackend(runtime: Runtime, options: BackendOptions): Promise<Backend> {
  return (await loaders[runtime]()).connect(options)
}
