/**
 * Debugging profiles, named and meant as in `kubectl debug --profile`, translated to container-engine settings.
 * One applier per profile so that each profile's intent is readable on its own line.
 */
export const PROFILES = ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin'] as const
export type Profile = (typeof PROFILES)[number]
export const DEFAULT_PROFILE: Profile = 'general'

/** The part of a Docker HostConfig (plus user) a profile decides. */
export interface DockerSecurity {
  capAdd: string[]
  capDrop: string[]
  privileged: boolean
  securityOpt: string[]
  /** A user the profile requires, or undefined to keep the image's. */
  user: string | undefined
}

/** Used when a restricted sidecar needs a non-root user and the target runs as root: the conventional "nobody". */
export const FALLBACK_NON_ROOT_USER = '65534:65534'

type Applier = (security: DockerSecurity, targetUser: string) => void

const appliers: Record<Profile, Applier> = {
  // SYS_PTRACE lets root in the sidecar read /proc/<pid>/root and attach strace/gdb to a process of another uid.
  general: (s) => s.capAdd.push('SYS_PTRACE'),
  // The engine's defaults, nothing added.
  baseline: () => {},
  // What Pod Security "restricted" demands: no capabilities, no privilege escalation, not root.
  restricted: (s, targetUser) => {
    s.capDrop.push('ALL')
    s.securityOpt.push('no-new-privileges:true')
    s.user = isRootUser(targetUser) ? FALLBACK_NON_ROOT_USER : targetUser
  },
  netadmin: (s) => s.capAdd.push('NET_ADMIN', 'NET_RAW'),
  sysadmin: (s) => {
    s.privileged = true
  },
}

export function dockerSecurity(profile: Profile, targetUser: string): DockerSecurity {
  const security: DockerSecurity = {capAdd: [], capDrop: [], privileged: false, securityOpt: [], user: undefined}
  appliers[profile](security, targetUser)
  return security
}

/** True for "", "0", "root", "0:0", "root:whatever": the forms Docker treats as uid 0. */
export function isRootUser(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0] ?? ''
  return name === '' || name === '0' || name === 'root'
}
