/**
 * Debugging profiles, named and meant as in `kubectl debug --profile`. Each backend translates them into its own
 * security settings (src/backends/docker/spec.ts, src/backends/kubernetes/spec.ts, and for a node debugger's pod
 * src/backends/kubernetes/node-spec.ts), one applier per profile. `legacy` is kubectl's deprecated default (1.23's
 * behaviour: nothing added), kept because kubectl 1.34 still has it.
 */
export const PROFILES = ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin', 'legacy'] as const
export type Profile = (typeof PROFILES)[number]
export const DEFAULT_PROFILE: Profile = 'general'

/** True for "", "0", "00", "+0", "root", "0:0", "root:whatever": every form the runtimes treat as uid 0. */
export function isRootUser(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0]!.trim()
  return name === '' || name === 'root' || /^\+?0+$/.test(name)
}
