import type {V1Pod, V1PodList} from '@kubernetes/client-node'

import {MindbgError} from '../../domain/errors.js'
import {type KubeApi, KubeStatusError, podPath} from './api.js'

type WatchEvent = {type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: V1Pod & {code?: number; metadata?: {resourceVersion?: string}}}

/** What a watcher decides for each version of the pod: keep waiting, or done with a value. */
export type PodVerdict<T> = {done: true; value: T} | {done: false}

const WATCH_SECONDS = 30

/**
 * Follows one pod with list+watch until `judge` is satisfied. Watches end (server timeouts, proxies, client
 * libraries that abort after 30 s): it resumes from the last resourceVersion; on 410 Gone it lists again.
 */
export async function watchPod<T>(
  api: KubeApi,
  namespace: string,
  name: string,
  judge: (pod: V1Pod) => PodVerdict<T>,
  options: {
    timeoutMs: number
    onTimeout: () => Error
    onError?: (error: unknown) => unknown
    watchSeconds?: number
    /** The caller no longer needs an answer: the watch ends, and the promise rejects with WatchCancelled. */
    signal?: AbortSignal
  },
): Promise<T> {
  const abort = new AbortController()
  const timer = setTimeout(() => abort.abort(), options.timeoutMs)
  timer.unref()
  const cancel = (): void => abort.abort()
  options.signal?.addEventListener('abort', cancel, {once: true})
  const timedOut = (): Error => (options.signal?.aborted ? new WatchCancelled() : options.onTimeout())
  const selector = `fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`
  try {
    return await follow()
  } catch (error) {
    if (options.signal?.aborted) throw new WatchCancelled()
    throw options.onError ? options.onError(error) : error
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', cancel)
    abort.abort()
  }

  async function follow(): Promise<T> {
    for (;;) {
      const list = await api.request<V1PodList>('GET', `${podPath(namespace)}?${selector}`)
      const pod = list.items[0]
      if (!pod) throw podGone(namespace, name)
      const first = judge(pod)
      if (first.done) return first.value
      let resourceVersion = list.metadata?.resourceVersion ?? pod.metadata?.resourceVersion ?? ''
      let relist = false
      while (!relist) {
        if (abort.signal.aborted) throw timedOut()
        let result: PodVerdict<T> = {done: false}
        let failure: Error | undefined
        // Each watch request ends as soon as it has told us enough (a verdict, a failure, a 410), or at the deadline.
        const thisWatch = new AbortController()
        const stop = (): void => thisWatch.abort()
        abort.signal.addEventListener('abort', stop, {once: true})
        const query = `${selector}&watch=true&allowWatchBookmarks=true&timeoutSeconds=${options.watchSeconds ?? WATCH_SECONDS}&resourceVersion=${resourceVersion}`
        try {
          await api.stream(
            `${podPath(namespace)}?${query}`,
            (line) => {
              if (result.done || failure || relist) return
              const event = JSON.parse(line) as WatchEvent
              if (event.type === 'ERROR') {
                if (event.object.code === 410) relist = true
                else failure = new KubeStatusError(event.object.code ?? 500, event.object as never)
                return stop()
              }
              resourceVersion = event.object.metadata?.resourceVersion ?? resourceVersion
              if (event.type === 'BOOKMARK') return
              if (event.type === 'DELETED') {
                failure = podGone(namespace, name)
                return stop()
              }
              // A judge may decide that waiting is pointless by throwing: that is the answer, not a crash of the stream.
              try {
                result = judge(event.object)
              } catch (error) {
                failure = error as Error
                return stop()
              }
              if (result.done) stop()
            },
            thisWatch.signal,
          )
        } catch (error) {
          if (error instanceof KubeStatusError && error.code === 410) relist = true
          else if (!thisWatch.signal.aborted) throw error
        } finally {
          abort.signal.removeEventListener('abort', stop)
        }
        if (failure) throw failure
        // Assigned inside the stream callback, which the compiler cannot see.
        const verdict = result as PodVerdict<T>
        if (verdict.done) return verdict.value
        if (abort.signal.aborted) throw timedOut()
      }
    }
  }
}

export class WatchCancelled extends Error {
  constructor() {
    super('watch cancelled')
  }
}

function podGone(namespace: string, name: string): MindbgError {
  return new MindbgError('targetStopped', `pod ${namespace}/${name} was deleted`, `See what happened: kubectl get events -n ${namespace} --field-selector involvedObject.name=${name}`)
}
