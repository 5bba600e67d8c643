/**
 * The object store: what etcd plus the watch cache are to a real API server.
 *
 * - One global, monotonically increasing resourceVersion, bumped on every write of any object (like etcd's revision),
 *   so list/watch semantics across resources hold.
 * - A bounded history of change events (historyLimit). A watch that starts from a resourceVersion older than the
 *   oldest kept event gets "410 Expired", exactly what clients must handle after etcd compaction; compactHistory()
 *   lets tests force that.
 * - Objects are stored as plain JSON (the wire form), deep-copied on the way in and out so handlers cannot alias
 *   stored state.
 */

export type Obj = Record<string, any>
export type Resource = 'pods' | 'namespaces' | 'nodes'

/** The kind of each resource's objects (watch events and single-object answers carry it). */
export const KIND: Record<Resource, string> = {pods: 'Pod', namespaces: 'Namespace', nodes: 'Node'}
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoreEvent {
  type: EventType
  resource: Resource
  /** resourceVersion of this change (also in object.metadata.resourceVersion). */
  rv: number
  object: Obj
  /** The object before the change (MODIFIED, DELETED): lets filtered watches turn MODIFIED into ADDED/DELETED. */
  previous?: Obj
}

export type Listener = (event: StoreEvent) => void

const keyOf = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name)

export class Store {
  /** The last resourceVersion handed out. Starts at an arbitrary realistic value. */
  rv = 1000
  /** Events older than this are forgotten: watching from an rv < oldestRv is 410. */
  oldestRv = 1000
  readonly historyLimit: number
  private readonly objects = new Map<Resource, Map<string, Obj>>([['pods', new Map()], ['namespaces', new Map()], ['nodes', new Map()]])
  private history: StoreEvent[] = []
  private readonly listeners = new Set<Listener>()

  constructor(historyLimit = 1000) {
    this.historyLimit = historyLimit
  }

  get(resource: Resource, namespace: string | undefined, name: string): Obj | undefined {
    const o = this.objects.get(resource)!.get(keyOf(namespace, name))
    return o ? structuredClone(o) : undefined
  }

  /** Objects of a resource, optionally in one namespace, sorted like etcd keys (namespace, then name). */
  list(resource: Resource, namespace?: string): Obj[] {
    const out: Obj[] = []
    for (const o of this.objects.get(resource)!.values()) {
      if (namespace === undefined || o.metadata.namespace === namespace) out.push(structuredClone(o))
    }
    return out.sort((a, b) => keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)))
  }

  create(resource: Resource, object: Obj): Obj {
    const key = keyOf(object.metadata.namespace, object.metadata.name)
    const map = this.objects.get(resource)!
    if (map.has(key)) throw new Error(`store: ${resource} ${key} exists`)
    const stored = structuredClone(object)
    stored.metadata.resourceVersion = String(++this.rv)
    map.set(key, stored)
    this.emit({type: 'ADDED', resource, rv: this.rv, object: stored})
    return structuredClone(stored)
  }

  /** Replaces the stored object (same key). Callers check preconditions (resourceVersion) before. */
  update(resource: Resource, object: Obj): Obj {
    const key = keyOf(object.metadata.namespace, object.metadata.name)
    const map = this.objects.get(resource)!
    const previous = map.get(key)
    if (!previous) throw new Error(`store: ${resource} ${key} does not exist`)
    const stored = structuredClone(object)
    stored.metadata.resourceVersion = String(++this.rv)
    map.set(key, stored)
    this.emit({type: 'MODIFIED', resource, rv: this.rv, object: stored, previous})
    return structuredClone(stored)
  }

  remove(resource: Resource, namespace: string | undefined, name: string): Obj | undefined {
    const key = keyOf(namespace, name)
    const map = this.objects.get(resource)!
    const previous = map.get(key)
    if (!previous) return undefined
    map.delete(key)
    // Like etcd, the deletion is a change with its own revision, carried by the DELETED event's object.
    const gone = structuredClone(previous)
    gone.metadata.resourceVersion = String(++this.rv)
    this.emit({type: 'DELETED', resource, rv: this.rv, object: gone, previous})
    return structuredClone(gone)
  }

  /** Events after `rv` (exclusive) for a resource, or 'expired' when the history no longer reaches back there. */
  eventsSince(resource: Resource, rv: number): StoreEvent[] | 'expired' {
    if (rv < this.oldestRv) return 'expired'
    return this.history.filter((e) => e.resource === resource && e.rv > rv)
  }

  /** Forget every past event: any watch from an older resourceVersion now gets 410 Expired. */
  compactHistory(): void {
    this.history = []
    this.oldestRv = this.rv
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(event: StoreEvent): void {
    this.history.push(event)
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit)
      this.oldestRv = dropped[dropped.length - 1]!.rv
    }
    for (const l of [...this.listeners]) {
      try {
        l(event)
      } catch (err) {
        // A broken listener (e.g. a watch whose socket died) must not break writes.
        process.emitWarning(`kube-sim: store listener failed: ${String(err)}`)
      }
    }
  }
}
