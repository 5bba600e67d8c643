import type {SidecarRequest} from '../../src/attach-options.js'

/** A sidecar request with the defaults `mindbg attach web` would produce, for spec-builder tests. */
export const sidecarRequest = (over: Partial<SidecarRequest> = {}): SidecarRequest => ({
  image: 'busybox:1.37.0-musl',
  imageSource: 'default',
  siblingMappings: [],
  platform: undefined,
  pull: 'missing',
  profile: 'general',
  privileged: false,
  capAdd: [],
  user: undefined,
  env: [],
  workdir: undefined,
  name: undefined,
  chroot: false,
  reason: undefined,
  command: [],
  ...over,
})
