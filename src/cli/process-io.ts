import type {ChildProcess} from 'node:child_process'
import {createReadStream, fstatSync, read} from 'node:fs'
import type {Socket} from 'node:net'
import type {Readable, Writable} from 'node:stream'
import {getSystemErrorName} from 'node:util'

import {initArch, initHostPath} from '../backends/init.js'
import type {StopRequest} from '../domain/session.js'
import type {SessionIO, SessionTerminal, StdinCopyEvents} from '../session/lifecycle.js'
import {enterRawMode, terminalSize} from './terminal.js'

/** Exit codes for a session ended from outside (128 + signal number, as shells report them). */
export const SIGNAL_EXIT: Record<string, number> = {SIGHUP: 129, SIGINT: 130, SIGTERM: 143}

/** The process's own streams and terminal, for a session of the CLI (and what `record` is told: attach --record). */
export function processIO(record?: SessionIO['record']): SessionIO & {release(): void} {
  const terminal: SessionTerminal | undefined = process.stdout.isTTY
    ? {
        size: () => terminalSize(process.stdout),
        onResize(listener) {
          const resized = (): void => {
            const size = terminalSize(process.stdout)
            if (size) listener(size)
          }
          process.stdout.on('resize', resized)
          return () => process.stdout.removeListener('resize', resized)
        },
        enterRaw: () => enterRawMode(process.stdin),
      }
    : undefined
  let stdin: Readable | undefined
  let kind: StdinOf | undefined
  const stdinOf = (): StdinOf => (kind ??= kindOfStdin())
  // fd 0 has one reader: the stream (`stdin`) or a copy (`copyStdin`), whichever a session asks for first.
  let copied: {socket?: Socket} | undefined
  return {
    // Made when a session reads it: process.stdin is a stream built on first use (for /dev/null a file ReadStream,
    // ~3-5 ms before the first request), which a session without input never reads.
    get stdin() {
      if (copied) return undefined
      return (stdin ??= stdinOf().kind === 'file' ? fileStdin() : process.stdin)
    },
    copyStdin(sink, on, sinkSocketFd) {
      const {kind: how, size} = stdinOf()
      if (stdin || copied || how === 'other') return undefined
      const inProcess = (): (() => void) | undefined => {
        if (how === 'file') {
          copied = {}
          return copyFile(0, sink, on)
        }
        let copy: ReturnType<typeof copyStream>
        try {
          copy = copyStream(0, sink, on)
        } catch {
          return undefined // a socket net cannot read (a datagram or seqpacket one): process.stdin reads it as a file
        }
        copied = {socket: copy.socket}
        return copy.stop
      }
      // Only where it pays for its process (~1 ms): a pipe's input is as long as it turns out; a small file's is not.
      const worthIt = how === 'pipe' || (how === 'file' && size >= KERNEL_COPY_FROM)
      const init = sinkSocketFd !== undefined && !on.chunk && worthIt ? initOfThisMachine() : undefined
      if (!init || how === 'socket' || sinkSocketFd === undefined) return inProcess()
      copied = {}
      return copyInKernel({init, source: 0, how, sinkSocketFd, sink, on, instead: inProcess})
    },
    stdout: process.stdout,
    stderr: process.stderr,
    terminal,
    record,
    // A TTY or pipe that was read from keeps the event loop alive: let go of it.
    release: () => ((copied?.socket ?? stdin) as unknown as {unref?: () => void} | undefined)?.unref?.(),
  }
}

/**
 * A regular file (and its size); a pipe (a shell's `|`); a socket (a parent's socketpair); anything else (a
 * terminal, /dev/null).
 */
interface StdinOf {
  kind: 'file' | 'pipe' | 'socket' | 'other'
  size: number
}

function kindOfStdin(): StdinOf {
  try {
    const stat = fstatSync(0)
    const kind = stat.isFile() ? 'file' : stat.isFIFO() ? 'pipe' : stat.isSocket() ? 'socket' : 'other'
    return {kind, size: stat.size}
  } catch {
    return {kind: 'other', size: 0}
  }
}

/** The size of a file on stdin from which the kernel copies it (below, a process costs more than it saves). */
const KERNEL_COPY_FROM = 1024 * 1024

/** mindbg-init for this machine's own CPU, as a file to run, or undefined (not Linux, no such build). */
export function initOfThisMachine(): string | undefined {
  if (process.platform !== 'linux') return undefined
  const arch = initArch(process.getBuiltinModule('node:os').machine())
  return arch && initHostPath(arch)
}

/** How copyInKernel is asked: from `source`, a file or a pipe, into the socket `sinkSocketFd` that `sink` writes to. */
export interface KernelCopy {
  init: string
  source: number
  how: 'file' | 'pipe'
  sinkSocketFd: number
  sink: Writable
  on: StdinCopyEvents
  instead: () => (() => void) | undefined
}

/**
 * stdin copied into the engine's socket by `mindbg-init --copy-in` (sendfile or splice: ~120 ms of this process's CPU
 * for 200 MB becomes a few ms of the kernel's), the socket's sending side shut down by it at the end, and `sink`
 * ended after it, so that its state agrees. Spawned on the next turn of the loop: the start of the session's
 * debugger goes out first. Where the process cannot be started, `instead` copies. Returns the stop (SIGKILL: nothing
 * in flight to lose but the input the command is not to get).
 */
export function copyInKernel(copy: KernelCopy): () => void {
  let stopped = false
  let stopInstead: (() => void) | undefined
  let child: ChildProcess | undefined
  const ended = (error?: Error): void => {
    if (stopped) return
    if (error) copy.on.error(error)
    copy.sink.end()
  }
  setImmediate(() => {
    if (stopped) return
    const {spawn} = process.getBuiltinModule('node:child_process')
    try {
      child = spawn(copy.init, ['--copy-in', copy.how, String(process.pid)], {stdio: [copy.source, copy.sinkSocketFd, 'inherit']})
    } catch {
      stopInstead = copy.instead()
      return
    }
    child.unref()
    child.once('error', () => {
      // Not started (the file is gone, a noexec mount): nothing of stdin was read yet.
      child = undefined
      if (!stopped) stopInstead = copy.instead()
    })
    child.once('exit', (code, signal) => {
      child = undefined
      if (code === 0) ended()
      else if (code !== null && code < 255) ended(new Error(getSystemErrorName(-code)))
      else ended(new Error(`its copy ended unexpectedly (${signal ?? `exit ${code}`})`))
    })
  })
  return () => {
    stopped = true
    child?.kill('SIGKILL')
    stopInstead?.()
  }
}

/**
 * How much of a file on stdin one read takes: process.stdin reads a file 64 kB at a time, each read a round trip
 * through libuv's thread pool and one write to the engine; 200 MB of input took ~1.3x the docker CLI's time for it.
 */
export const FILE_STDIN_CHUNK = 256 * 1024

/** stdin when it is a regular file (`< file`) and read as a stream: in larger chunks than process.stdin's. */
function fileStdin(): Readable {
  // fd 0 stays open (autoClose: false) as process.stdin would leave it; reads start where the file's offset is.
  return createReadStream('', {fd: 0, highWaterMark: FILE_STDIN_CHUNK, autoClose: false})
}

/**
 * How many buffers a copy of stdin reads into and writes from, each used again once its write is done: what bounds
 * the input in flight (a file: 1 MB, as much as the backends' input buffers hold, INPUT_BUFFER; a pipe: 256 kB). A
 * stream's new buffer per read cost, for 200 MB from a file, ~80 ms of CPU more (the buffers' fresh pages, the
 * collector) and 1.27x instead of 1.13x the docker CLI's time (BENCHMARKS.md, session 11).
 */
const COPY_BUFFERS = 4

/** A pool of reusable buffers; `take` returns undefined when all are in flight. */
function bufferPool(size: number): {take(): Buffer | undefined; give(buffer: Buffer): void; readonly idle: number} {
  const free: Buffer[] = Array.from({length: COPY_BUFFERS}, () => Buffer.allocUnsafeSlow(size))
  return {
    take: () => free.pop(),
    give: (buffer) => void free.push(buffer),
    get idle() {
      return free.length
    },
  }
}

/** A regular file on fd copied into sink from where its offset is to its end, then sink ended. Returns the stop. */
export function copyFile(fd: number, sink: Writable, on: StdinCopyEvents): () => void {
  const pool = bufferPool(FILE_STDIN_CHUNK)
  let reading = false
  let finished = false
  const readNext = (): void => {
    if (finished || reading) return
    const buffer = pool.take()
    if (!buffer) return
    reading = true
    read(fd, buffer, 0, buffer.length, null, (error, n) => {
      reading = false
      if (finished) return
      if (error || n === 0) {
        // A read error (EIO) ends the input as its end does, said: the command is not left waiting for more.
        finished = true
        if (error) on.error(error)
        sink.end()
        return
      }
      const chunk = buffer.subarray(0, n)
      on.chunk?.(chunk)
      sink.write(chunk, (writeError) => {
        if (writeError) finished = true
        pool.give(buffer)
        readNext()
      })
      readNext()
    })
  }
  readNext()
  return () => {
    finished = true
  }
}

/**
 * A pipe or socket on fd copied into sink until its end, through net's `onread`, then sink ended. Node asks
 * `onread.buffer` for the next read's buffer right after each read's callback: the socket is paused while the pool's
 * last buffer is the one it holds, so a read never lands in a buffer whose write is not done. Piped 200 MB: ~16 ms
 * of CPU less than process.stdin's new buffer per read (a pipe's read gives at most 64 kB either way).
 */
export function copyStream(fd: number, sink: Writable, on: StdinCopyEvents): {socket: Socket; stop: () => void} {
  const size = 64 * 1024 // a pipe holds 64 kB: a read gives at most that (from a socket: more reads)
  const pool = bufferPool(size)
  let held: Buffer | undefined // the socket's buffer for its next read
  let paused = false
  let stopped = false
  const {Socket} = process.getBuiltinModule('node:net')
  const onread = {
    buffer: (): Buffer => (held = pool.take() ?? Buffer.allocUnsafeSlow(size)),
    callback: (n: number): boolean => {
      const buffer = held!
      const chunk = buffer.subarray(0, n)
      on.chunk?.(chunk)
      sink.write(chunk, (writeError) => {
        pool.give(buffer)
        if (writeError) socket.destroy()
        else if (paused && !stopped) {
          paused = false
          socket.resume()
        }
      })
      if (pool.idle <= 1) {
        paused = true
        socket.pause()
      }
      return true
    },
  }
  const socket = new Socket({fd, readable: true, writable: false, onread})
  socket.on('error', (error) => {
    if (stopped) return
    on.error(error)
    sink.end()
  })
  socket.once('end', () => {
    if (!stopped) sink.end()
  })
  return {
    socket,
    stop: () => {
      stopped = true
      socket.pause()
    },
  }
}

/**
 * The command owns the process's signals: SIGINT, SIGTERM and SIGHUP abort `controller` with the conventional exit
 * code, and every session listening to its signal ends (its debugger ended first). Returns the unsubscribe.
 */
export function stopOnSignals(controller: AbortController): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    const stop: StopRequest = {exitCode: SIGNAL_EXIT[signal] ?? 1, ending: 'stopped'}
    controller.abort(stop)
  }
  for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, onSignal)
  return () => {
    for (const signal of Object.keys(SIGNAL_EXIT)) process.removeListener(signal, onSignal)
    // Stopped by a signal, mindbg is on its way out with that signal's code: the same signal again must not kill it
    // there by default (a closed terminal's hang-up comes from the kernel, and again from whoever closed it).
    if (controller.signal.aborted) for (const signal of Object.keys(SIGNAL_EXIT)) process.on(signal, () => {})
  }
}
