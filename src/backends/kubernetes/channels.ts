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
export const resizeFrame = (columns: number, rows: number): Buffer =>
  Buffer.concat([Buffer.from([CHANNEL.resize]), Buffer.from(JSON.stringify({Width: columns, Height: rows}))])
/** v5 only: stdin is finished (EOF), the rest of the stream stays open. */
export const closeStdinFrame = (): Buffer => Buffer.from([CHANNEL.close, CHANNEL.stdin])
