/**
 * The Kubernetes streaming protocol over WebSocket (v4/v5.channel.k8s.io): every binary message starts with a
 * channel byte. 0 stdin, 1 stdout, 2 stderr, 3 status (a JSON metav1.Status), 4 resize (JSON {Width, Height}).
 * v5 adds a close message [255, channel], which lets the client half-close stdin.
 */
export const CHANNEL = {stdin: 0, stdout: 1, stderr: 2, status: 3, resize: 4, close: 255} as const
/** The protocol with stdin half-close; the API server serves it through its stream translator. */
export const STREAM_CLOSE_PROTOCOL = 'v5.channel.k8s.io'
export const PROTOCOLS = [STREAM_CLOSE_PROTOCOL, 'v4.channel.k8s.io']

export type Incoming =
  | {kind: 'stdout' | 'stderr'; data: Buffer}
  | {kind: 'status'; status: {status?: string; message?: string; reason?: string; details?: {causes?: Array<{reason?: string; message?: string}>}}}
  | {kind: 'close'; channel: number}
  | {kind: 'ignored'}

export function decode(message: Buffer): Incoming {
  if (message.length === 0) return {kind: 'ignored'}
  const channel = message[0]
  const data = message.subarray(1)
  if (channel === CHANNEL.stdout) return {kind: 'stdout', data}
  if (channel === CHANNEL.stderr) return {kind: 'stderr', data}
  if (channel === CHANNEL.status) {
    try {
      return {kind: 'status', status: JSON.parse(data.toString('utf8'))}
    } catch {
      return {kind: 'status', status: {status: 'Failure', message: data.toString('utf8')}}
    }
  }
  if (channel === CHANNEL.close && data.length > 0) return {kind: 'close', channel: data[0]!}
  return {kind: 'ignored'}
}

export const stdinFrame = (data: Buffer): Buffer => Buffer.concat([Buffer.from([CHANNEL.stdin]), data])

/**
 * The most input one stdin message carries. The kubelet's WebSocket server takes up to 32 MB a message; each of the
 * relay wrapper's chunks costs it a line read a byte at a time and a dd: 64 kB messages (one per read of stdin) made
 * 200 MB of input ~3,000 of those.
 */
export const STDIN_FRAME_MAX = 1024 * 1024

/**
 * Input that waited while a message was on its way, as few stdin messages as STDIN_FRAME_MAX allows, each copied
 * once: [0, header(length) if given, the bytes]. A chunk is split across two messages only when one would be too big.
 */
export function stdinFrames(chunks: readonly Buffer[], header?: (length: number) => string, max = STDIN_FRAME_MAX): Buffer[] {
  // An empty chunk carries nothing (and an empty relay chunk would be the wrapper's end of input).
  const parts = chunks.filter((c) => c.length > 0)
  let left = parts.reduce((sum, c) => sum + c.length, 0)
  const frames: Buffer[] = []
  let i = 0
  let offset = 0
  while (left > 0) {
    const length = Math.min(left, max)
    const head = header ? Buffer.from(header(length), 'latin1') : Buffer.alloc(0)
    const frame = Buffer.allocUnsafe(1 + head.length + length)
    frame[0] = CHANNEL.stdin
    head.copy(frame, 1)
    for (let at = 1 + head.length; at < frame.length; ) {
      const part = parts[i]!
      const n = Math.min(part.length - offset, frame.length - at)
      part.copy(frame, at, offset, offset + n)
      at += n
      offset += n
      if (offset === part.length) {
        i++
        offset = 0
      }
    }
    left -= length
    frames.push(frame)
  }
  return frames
}
export const resizeFrame = (columns: number, rows: number): Buffer =>
  Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from(JSON.stringify({Width: columns, Height: rows}))])
/** v5 only: stdin is finished (EOF), the rest of the stream stays open. */
export const closeStdinFrame = (): Buffer => Buffer.from([CHANNEL.close, CHANNEL.stdin])
