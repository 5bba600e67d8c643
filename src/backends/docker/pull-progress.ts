/** Summarises Docker pull progress events into one line: layers done and bytes downloaded. */
export class PullProgress {
  private readonly layers = new Map<string, {current: number; total: number; done: boolean}>()

  constructor(private readonly image: string) {}

  add(event: {id?: string; status?: string; progressDetail?: {current?: number; total?: number}}): string {
    const {id, status = ''} = event
    if (id && /^[0-9a-f]{12,}$/.test(id)) {
      const layer = this.layers.get(id) ?? {current: 0, total: 0, done: false}
      if (status === 'Downloading' && event.progressDetail) {
        layer.current = event.progressDetail.current ?? layer.current
        layer.total = event.progressDetail.total ?? layer.total
      }
      if (/^(Pull complete|Already exists|Download complete)$/.test(status)) {
        layer.done = true
        if (layer.total) layer.current = layer.total
      }
      this.layers.set(id, layer)
    }
    return this.summary()
  }

  summary(): string {
    const all = [...this.layers.values()]
    const done = all.filter((l) => l.done).length
    const current = all.reduce((n, l) => n + l.current, 0)
    const total = all.reduce((n, l) => n + l.total, 0)
    const bytes = total > 0 ? `, ${mb(current)}/${mb(total)} MB` : ''
    return `Pulling ${this.image}: ${done}/${all.length} layers${bytes}`
  }
}

const mb = (n: number): string => (n / 1e6).toFixed(1)
