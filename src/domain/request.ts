import type {Profile} from './profiles.js'

/** A static busybox: it must run inside a chroot of the target's filesystem, where no libc may exist. */
export const DEFAULT_IMAGE = 'busybox:1.37.0-musl'
export const PULL_POLICIES = ['always', 'missing', 'never'] as const
export type PullPolicy = (typeof PULL_POLICIES)[number]

/** Where the debug image came from, for --dry-run and notices. */
export type ImageSource = 'flag' | 'sibling' | 'MINDBG_IMAGE' | 'config' | 'default'

/** A user-defined rule from the config file: a regular expression over the whole reference and its replacement. */
export interface SiblingMapping {
  match: string
  replace: string
}

/** Everything about a new debugger that can be decided without asking a runtime: the same for every backend. */
export interface DebuggerRequest {
  /** The debug image; with --sibling it is derived from the target's image once the target is known. */
  image: string
  imageSource: ImageSource
  /** Sibling mappings from the config file, tried before the built-in ones. */
  siblingMappings: SiblingMapping[]
  /** Explicit --platform; otherwise a pull uses the target's platform. */
  platform: string | undefined
  pull: PullPolicy
  profile: Profile
  privileged: boolean
  capAdd: string[]
  user: string | undefined
  env: string[]
  workdir: string | undefined
  name: string | undefined
  chroot: boolean
  /** The target's volumes where mindbg mounts them (a snapshot's stand-in, shareVolumes): writable, not read-only. */
  writableVolumes: boolean
  /** A crash-looping target is held: its restart policy set to "no" (and left so), debugged once it has stopped. */
  stopRestarts: boolean
  /** Kubernetes: the target container's volumeMounts, also in the debugger (read-only unless writableVolumes). */
  shareVolumes: boolean
  reason: string | undefined
  command: string[]
  /** A partial container spec (JSON or YAML file) merged into the debugger, as kubectl debug --custom. */
  custom: string | undefined
  /** How long to wait for the debugger to start (a pull included) where the runtime makes us wait. */
  startTimeoutMs: number
  /** Kubernetes: debug a copy of the pod instead (--copy-to), with the debugger as one of its containers. */
  copy?: CopyRequest | undefined
  /** `attach --detach`: the debugger serves later commands (src/session/serve.ts) and ends by itself after ttlMs. */
  serve?: {ttlMs: number} | undefined
  /**
   * `run --shared-debugger` (Docker, Podman): one debugger for all of a run's targets, in the host's PID namespace,
   * entering each target's namespaces for its steps, instead of a sidecar per target.
   */
  shared?: boolean | undefined
}

/** `--copy-to NAME` and its companions, with kubectl debug's meanings and defaults. */
export interface CopyRequest {
  name: string
  /** --set-image CONTAINER=IMAGE (repeatable); container "*" is every container without one of its own. */
  setImages: Array<{container: string; image: string}>
  /** What the copy keeps of the original (kubectl 1.34's --keep-*: everything false but initContainers). */
  keep: {labels: boolean; annotations: boolean; liveness: boolean; readiness: boolean; startup: boolean; initContainers: boolean}
  /** Scheduled on the original's node. */
  sameNode: boolean
  /** The original is deleted once the copy exists. */
  replace: boolean
  /** The copy stays after the session (mindbg says how to delete it). */
  keepCopy: boolean
  /** The target container's entrypoint is held until the user starts it from the debugger (mindbg-release). */
  hold: boolean
}

export const DEFAULT_START_TIMEOUT_MS = 120_000

/** How the session's streams are wired: decided once from flags and terminals, honoured by every backend. */
export interface StreamMode {
  stdin: boolean
  tty: boolean
  detachKeys: number[]
  /** The same keys in Docker's notation, also given to the engine so that its default never cuts in. */
  detachKeysSpec: string
  /** The terminal's size when a TTY is allocated, so the shell starts at the right size. */
  consoleSize?: {rows: number; columns: number}
}

/** Why this image, in words, for --dry-run and notices. */
export function describeImageSource(source: ImageSource, configPath: string | undefined): string {
  switch (source) {
    case 'flag':
      return '--image'
    case 'sibling':
      return "--sibling: the debug twin of the target's image"
    case 'MINDBG_IMAGE':
      return 'the MINDBG_IMAGE environment variable'
    case 'config':
      return `"image" in ${configPath}`
    case 'default':
      return "mindbg's default (a static busybox)"
  }
}
