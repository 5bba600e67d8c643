/**
 * Cuts a text stream into its non-blank lines (a Kubernetes watch, Docker's events). A line (a watch event: the whole
 * pod, which grows with every ephemeral container: 1.4 MB after 240 of them) comes in many chunks: each chunk is
 * searched once and the line joined once, at its end (appending to one string and searching all of it at every chunk took ~200 ms of CPU per such event).
 */
export function splitLines(onLine: (line: string) => void): {push(chunk: string): void; end(): void} {
  let pending: string[] = []
  const emit = (line: string): void => {
    if (line.trim()) onLine(line)
  }
  return {
    push(chunk) {
      let start = 0
      let nl: number
      while ((nl = chunk.indexOf('\n', start)) >= 0) {
        pending.push(chunk.slice(start, nl))
        const line = pending.join('')
        pending = []
        start = nl + 1
        emit(line)
      }
      if (start < chunk.length) pending.push(chunk.slice(start))
    },
    end() {
      emit(pending.join(''))
      pending = []
    },
  }
}
