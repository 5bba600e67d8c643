/**
 * Runs detached from mindbg (see ../watchdog.ts) once the session that created a pod (./owned-pod.ts) is gone without
 * releasing it: deletes that pod. Arguments: [--kubeconfig FILE] --context NAME NAMESPACE POD SESSION STATE, where
 * STATE is the last thing mindbg reported: "creating" (the create request may still be in flight) or "created:UID".
 */
import type {V1Pod} from '@kubernetes/client-node'

import {KubeApi, KubeStatusError, podPath} from './api.js'
import {deleteOwnedPod, OWNED} from './owned-pod.js'

/** After "creating": the pod is looked for until it appears, this long at most (an API server answers in seconds). */
const CREATE_MAY_TAKE_MS = 2 * 60_000

async function reap(args: string[]): Promise<void> {
  const take = (flag: string): string | undefined => {
    const at = args.indexOf(flag)
    if (at < 0) return undefined
    return args.splice(at, 2)[1]
  }
  const kubeconfig = take('--kubeconfig')
  const context = take('--context')
  const [namespace, name, session, state = ''] = args
  if (!namespace || !name || !session) process.exit(2)
  // No bound on requests of its own beyond the default: nobody waits for the reaper.
  const api = await KubeApi.connect({kubeconfig, context, namespace})
  const uid = state.startsWith('created:') ? state.slice('created:'.length) || undefined : undefined
  const deadline = Date.now() + (state === 'creating' ? CREATE_MAY_TAKE_MS : 30_000)
  let pause = 200
  try {
    for (;;) {
      try {
        const pod = await api.request<V1Pod>('GET', podPath(namespace, name))
        // Only the pod of this session: the name may have been taken by someone else since (a --copy-to NAME).
        if (pod.metadata?.labels?.[OWNED.session] !== session) return
        if (uid !== undefined && pod.metadata?.uid !== uid) return
        await deleteOwnedPod(api, namespace, name, pod.metadata?.uid)
        return
      } catch (error) {
        // Created, and now gone: nothing left to do. Not there yet after "creating": the create may still come.
        if (error instanceof KubeStatusError && error.code === 404 && uid !== undefined) return
        if (Date.now() > deadline) return
        await new Promise((r) => setTimeout(r, pause))
        pause = Math.min(pause * 2, 2000)
      }
    }
  } finally {
    api.close()
  }
}

// No top-level await: the single executable's bundle is CommonJS (build/sea.mjs).
void reap(process.argv.slice(2)).catch(() => process.exit(1))
