/**
 * Watches (`?watch=true`, or the legacy /api/v1/watch/... paths): a chunked stream of JSON events, one per line,
 * with the watch cache's semantics:
 * - resourceVersion unset or "0": synthetic ADDED events for the current objects, then changes;
 * - resourceVersion N: every change after N from the kept history, then live changes; N older than the history
 *   -> a single ERROR event carrying a 410 "Expired" Status (what the watch cache sends), then the stream ends;
 * - sendInitialEvents=true (watch-list): ADDED for the current objects, then a BOOKMARK annotated
 *   k8s.io/initial-events-end=true;
 * - allowWatchBookmarks=true: BOOKMARK events carrying the current resourceVersion every bookmarkIntervalMs;
 * - timeoutSeconds: the server ends the stream after that long;
 * - a selector-filtered watch turns MODIFIED into ADDED/DELETED when an object starts/stops matching.
 * expireAll() ends every open watch with a 410 ERROR event (compaction while streaming) so clients' re-list paths
 * can be tested.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Matcher} from './selectors.ts'
import {ApiError, badRequest, expired, makeStatus} from './status.ts'
import {KIND, type Obj, type Resource, type Store, type StoreEvent} from './store.ts'
import {type Representation, toPartialMetadata, toTable} from './table.ts'
import {boolParam} from './http-util.ts'


export interface WatchRequest {
  resource: Resource
  namespace?: string
  matcher: Matcher
  representation: Representation
  includeObject: string | null
  params: URLSearchParams
}

interface ActiveWatch {
  res: ServerResponse
  resource: Resource
  end: () => void
}

export class WatchHub {
  private readonly store: Store
  private readonly bookmarkIntervalMs: number
  private readonly active = new Set<ActiveWatch>()

  constructor(store: Store, bookmarkIntervalMs: number) {
    this.store = store
    this.bookmarkIntervalMs = bookmarkIntervalMs
  }

  get size(): number {
    return this.active.size
  }

  serve(req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
    const {store} = this
    const p = w.params
    const rvParam = p.get('resourceVersion') ?? ''
    const bookmarks = boolParam(p.get('allowWatchBookmarks'))
    const sendInitial = p.get('sendInitialEvents')
    const timeoutSeconds = Number(p.get('timeoutSeconds') ?? '0')
    if (sendInitial === 'true' && (!bookmarks || p.get('resourceVersionMatch') !== 'NotOlderThan')) {
      throw new ApiError(makeStatus(422, 'Invalid',
        'Invalid value: "sendInitialEvents": sendInitialEvents requires setting allowWatchBookmarks to true and resourceVersionMatch to NotOlderThan',
        {}))
    }
    let since: number | undefined
    if (rvParam !== '' && rvParam !== '0') {
      since = Number(rvParam)
      if (!Number.isInteger(since) || since < 0) throw badRequest(`resourceVersion: Invalid value: "${rvParam}": strconv.ParseUint: parsing "${rvParam}": invalid syntax`)
    }

    const inScope = (o: Obj): boolean => w.namespace === undefined || o.metadata?.namespace === w.namespace
    const matches = (o: Obj | undefined): boolean => o !== undefined && inScope(o) && w.matcher(o)
    let first = true
    const encode = (type: string, o: Obj): string => {
      let object: object = o
      if (type !== 'BOOKMARK' && type !== 'ERROR') {
        if (w.representation === 'table') object = toTable(w.resource, [o], o.metadata.resourceVersion, w.includeObject, first)
        else if (w.representation === 'metadata') object = toPartialMetadata(o)
        first = false
      }
      return `${JSON.stringify({type, object})}\n`
    }

    res.writeHead(200, {'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked'})
    res.flushHeaders()

    // The start point is decided and the live subscription made in the same tick: no change can slip between.
    const initial: string[] = []
    if (since !== undefined && sendInitial !== 'true') {
      const past = store.eventsSince(w.resource, since)
      if (past === 'expired') {
        res.end(`${JSON.stringify({type: 'ERROR', object: expired(`too old resource version: ${since} (${store.oldestRv})`).status})}\n`)
        return
      }
      for (const e of past) {
        const line = this.translate(e, matches, encode)
        if (line) initial.push(line)
      }
    } else {
      for (const o of store.list(w.resource, w.namespace)) {
        if (w.matcher(o)) initial.push(encode('ADDED', {kind: KIND[w.resource], apiVersion: 'v1', ...o}))
      }
      if (sendInitial === 'true') {
        initial.push(encode('BOOKMARK', this.bookmark(w.resource, {'k8s.io/initial-events-end': 'true'})))
      }
    }

    const timers: NodeJS.Timeout[] = []
    let unsubscribe = (): void => {}
    const watch: ActiveWatch = {
      res,
      resource: w.resource,
      end: () => {
        if (!this.active.delete(watch)) return
        unsubscribe()
        for (const t of timers) clearTimeout(t)
        res.end()
      },
    }
    this.active.add(watch)
    unsubscribe = store.subscribe((e) => {
      if (e.resource !== w.resource) return
      const line = this.translate(e, matches, encode)
      if (line) res.write(line)
    })
    for (const line of initial) res.write(line)

    if (bookmarks) {
      const t = setInterval(() => res.write(encode('BOOKMARK', this.bookmark(w.resource))), this.bookmarkIntervalMs)
      timers.push(t)
    }
    if (timeoutSeconds > 0) timers.push(setTimeout(() => watch.end(), timeoutSeconds * 1000))
    req.on('close', () => watch.end())
    res.on('close', () => watch.end())
  }

  private bookmark(resource: Resource, annotations?: Record<string, string>): Obj {
    const metadata: Obj = {resourceVersion: String(this.store.rv)}
    if (annotations) metadata.annotations = annotations
    return {kind: KIND[resource], apiVersion: 'v1', metadata}
  }

  /** Store event -> watch event line for this watch's filter (undefined when the watcher must not see it). */
  private translate(e: StoreEvent, matches: (o: Obj | undefined) => boolean, encode: (t: string, o: Obj) => string): string | undefined {
    const obj = {kind: KIND[e.resource], apiVersion: 'v1', ...e.object}
    const now = matches(e.object)
    const before = matches(e.previous)
    if (e.type === 'ADDED') return now ? encode('ADDED', obj) : undefined
    if (e.type === 'DELETED') return before ? encode('DELETED', obj) : undefined
    if (now && before) return encode('MODIFIED', obj)
    if (now) return encode('ADDED', obj)
    if (before) return encode('DELETED', obj)
    return undefined
  }

  /** Ends every open watch with a 410 ERROR event, as when etcd compacts past a slow watcher. */
  expireAll(): void {
    for (const w of [...this.active]) {
      const status = expired(`too old resource version: ${this.store.oldestRv - 1} (${this.store.oldestRv})`).status
      w.res.write(`${JSON.stringify({type: 'ERROR', object: status})}\n`)
      w.end()
    }
  }

  closeAll(): void {
    for (const w of [...this.active]) w.end()
  }
}
