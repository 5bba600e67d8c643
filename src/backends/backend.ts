import type {Readable, Writable} from 'node:stream'

import type {Reporter} from '../domain/reporter.js'
import type {DebuggerRequest, StreamMode} from '../domain/request.js'
import type {Runtime, Target, TargetRef, TargetSelector} from '../domain/target.js'

/**
 * The seam between mindbg's session core and a container runtime. Docker (with Podman as its variant) and
 * Kubernetes implement it, each in its own folder; a containerd backend would be a third. The session lifecycle
 * (src/session/lifecycle.ts) drives a Debugger through it and knows nothing else of the runtime.
 *
 * The order of one session: resolve -> (a policy decides) -> plan -> create -> attach -> start -> exited -> end.
 * Every failure a backend reports is a MindbgError with its runtime's words in it.
 */
export interface Backend<T extends Target = Target, P extends DebuggerPlan<T> = DebuggerPlan<T>> {
  readonly runtime: Runtime
  /**
   * What planning `request` will ask the runtime, asked now, in parallel with `resolve` (a round trip less on the
   * way to a session); optional, and nothing changes anywhere.
   */
  prefetch?(request: DebuggerRequest): void
  /** The targets a reference names (one, or many for a selector), in whatever state they are. */
  resolve(ref: TargetRef): Promise<T[]>
  /** The running targets whose labels match (none is not an error here); mindbg's own debuggers are never selected. */
  select(selector: TargetSelector): Promise<T[]>
  /**
   * For a target that is not running (stopped, exited, restarting, an image): a running stand-in with its filesystem
   * (a snapshot of the container, or the image), its image config and its volumes, that a debugger can join as if it
   * were the target; the original is not touched. Optional: without it such targets are refused.
   */
  standIn?(target: T, request: DebuggerRequest, reporter: Reporter, signal: AbortSignal): Promise<StandIn<T>>
  /** What would be created next to `target`, and why: no change anywhere. Its report is what --dry-run shows. */
  plan(target: T, request: DebuggerRequest, streams: StreamMode, context: PlanContext): Promise<P>
  /** Creates the debugger (pulling its image if need be), not yet started. */
  create(plan: P, reporter: Reporter, signal: AbortSignal): Promise<Debugger>
  /**
   * A debugger left running by an earlier session: by name, or else the newest one next to `target` that a
   * terminal can get back into. undefined when none matches (a name that matches nothing is an error).
   */
  find(query: {name?: string | undefined; target?: T | undefined}, streams: StreamMode): Promise<Debugger | undefined>
  /** mindbg's debuggers, live or ended. */
  list(scope: ListScope): Promise<DebuggerSummary[]>
  /** Removes orphaned debuggers (or, with `all`, every one); Kubernetes cannot delete ephemeral containers. */
  prune(options: {all: boolean}): Promise<PrunedDebugger[]>
  /** Lets go of connections, and removes what it made for more than one session (a run's shared debugger). */
  close(): void | Promise<void>
}

/** A running stand-in for a target that is not running; gone (with everything made for it) after end(). */
export interface StandIn<T extends Target = Target> {
  /** The stand-in, as a running target: what the debugger joins. Its name is the original's. */
  readonly target: T
  /** Said once before the session: what the debugger is looking at. */
  readonly notice: string
  /** Removes the stand-in and what was made for it (a snapshot image). Idempotent. */
  end(): Promise<void>
}

/** How to reach the runtimes; each backend takes what concerns it. */
export interface BackendOptions {
  /** Kubernetes: the kubeconfig file, its context, and the namespace of references that name none. */
  kubeconfig?: string | undefined
  context?: string | undefined
  namespace?: string | undefined
  /** Kubernetes: how long a request may go unanswered; 0: no bound; undefined: the default. */
  requestTimeoutMs?: number | undefined
}

/** What the plan needs from the caller besides the request. */
export interface PlanContext {
  version: string
  /** The config file in use, for "why this image" in reports. */
  configPath: string | undefined
}

/** A debugger as planned: what `create` needs, and what --dry-run shows. */
export interface DebuggerPlan<T extends Target = Target> {
  readonly target: T
  readonly name: string
  readonly image: string
  readonly streams: StreamMode
  readonly command: string[]
  readonly report: PlanReport
}

/** --dry-run's report, the same shape for every runtime (JSON with --json). */
export interface PlanReport {
  runtime: Runtime
  target: {name: string; id: string; image: string; label: string} & Record<string, string>
  image: string
  imageReason: string
  /** Whether the image is there already; absent where the runtime decides at start (a node's kubelet). */
  imagePresent?: boolean
  platform?: string | undefined
  pull: string
  profile: string
  user: string
  joins: string[]
  name: string
  /** Adaptations the backend made on its own (non-root target, Pod Security). */
  notes: string[]
  command: string[]
  /** The runtime's own spec of the debugger (Docker create options, the ephemeral container). */
  spec: unknown
}

/** A debugger that exists: created by this session, or found again. */
export interface Debugger {
  readonly runtime: Runtime
  readonly name: string
  readonly image: string
  readonly target: Target | undefined
  /** Created by this session: the session starts it, and it ends with the session. */
  readonly fresh: boolean
  /** Its streams as it has them (a found debugger keeps its own terminal or none). */
  readonly streams: StreamMode
  /** Said once the streams are open, e.g. where the target's filesystem is. */
  readonly notice: string | undefined
  /**
   * Opens its streams; a fresh Kubernetes debugger is waited for until it runs (or `signal` gives up). What happens
   * to it or its target meanwhile (paused, killed from outside) is told through `reporter`.
   */
  attach(signal: AbortSignal, reporter: Reporter): Promise<DebuggerLink>
  /** Ends it: afterwards nothing of it runs (Docker: removed). Idempotent; also right after a normal exit. */
  end(): Promise<void>
  /** The user detached: it keeps running and nothing removes it. Returns how to get back in and how to end it. */
  leave(): string
  /**
   * It was started by `attach --detach` (src/session/serve.ts): no shell of its own to get back into; commands reach
   * its step server through serve() where the runtime allows, else by exec.
   */
  readonly serves?: boolean
  /**
   * Opens a serving debugger's own streams (Docker: an attach to the running container), with no process made by the
   * runtime. Every caller attached at the time sees all of its output; the server's markers say whose it is.
   */
  readonly serve?: ((signal: AbortSignal) => Promise<ServeLink>) | undefined
  /**
   * A command run in this live debugger by the runtime (Docker's exec), as a debugger of its own for a session to
   * drive: attach() starts it (it is not `fresh`), its end() ends that command and its children only.
   */
  exec?(command: string[], streams: StreamMode): Debugger
}

/** The streams of a serving debugger (Debugger.serve), shared with every other caller attached at the same time. */
export interface ServeLink {
  readonly stdout: Readable
  readonly stderr: Readable
  /** Its stdin: a write of at most SERVE_ATOMIC_BYTES reaches the server whole, whoever else writes meanwhile. */
  readonly input: Writable
  /** Lets go of the streams; the debugger keeps serving. */
  close(): void
}

/**
 * What one write to a serving debugger's stdin may carry to arrive in one piece: the pipe's atomic size (PIPE_BUF,
 * 4096 on Linux), less room for the engine's framing.
 */
export const SERVE_ATOMIC_BYTES = 4000

/** An open connection to a debugger's streams. */
export interface DebuggerLink {
  /** Its output, ending when its stream ends. The backend reads no faster than these are read (backpressure). */
  readonly stdout: Readable
  readonly stderr: Readable
  /**
   * Its input, when the session has stdin; end() is the end of input. Done with a chunk when that chunk's write
   * callback runs (sent, or copied into a message): a copy of stdin writes the same buffer again afterwards.
   */
  readonly input: Writable | undefined
  /**
   * The descriptor of `input`'s own socket (a local, unencrypted stream socket), when another process of this machine
   * may write the input into it directly instead of `input` (mindbg-init --copy-in), ending it with a shutdown of
   * its sending side; undefined where the input has to be framed or encrypted (WebSocket, TLS, a shared debugger).
   */
  readonly inputSocketFd?: number | undefined
  resize(size: {rows: number; columns: number}): void
  /** Lets a fresh debugger run (Docker: start; Kubernetes: the go-ahead); nothing for a found one. */
  start(): Promise<void>
  /** Its exit code once it has exited; its output streams end on their own. */
  readonly exited: Promise<number>
  /**
   * Closes the streams: early, when the session is stopping (Debugger.end follows) or detaching (Debugger.leave),
   * which may take a moment (a terminal's program is told to stop first; the session waits for it); or after the
   * command's exit and all of its output, dropping the input it did not read.
   */
  close(reason: 'stop' | 'detach' | 'exited'): void | Promise<void>
  /** After an exit: a MindbgError (targetStopped) when the target went away and took the debugger with it. */
  checkTarget(exitCode: number): Promise<void>
}

export interface ListScope {
  /** Kubernetes: every namespace. */
  allNamespaces?: boolean
}

/** A debugger as `mindbg ls` shows it. */
export interface DebuggerSummary {
  runtime: Runtime
  name: string
  /** Where it lives beyond its name: "" for Docker, "NAMESPACE/POD" for Kubernetes. */
  location: string
  /** The target's name. */
  target: string
  state: string
  /** "running", or what else the target is doing now ("exited", "gone"). */
  targetState: string
  user: string
  started: string
  ageSeconds: number
  reason: string
  version: string
  image: string
  /** Runtime-specific fields (ids, target state, exit code) are kept in the JSON output. */
  [field: string]: unknown
}

export interface PrunedDebugger {
  name: string
  target: string
  why: string
}
