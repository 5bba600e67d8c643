/**
 * Debugging profiles, named and meant as in `kubectl debug --profile`. Each backend translates them into its own
 * security settings (src/backends/docker/spec.ts, src/backends/kubernetes/spec.ts), one applier per profile.
 */
export const PROFILES = ['general', 'baseline', 'restricted', 'netadmin', 'sysadmin'] as const
export type Profile = (typeof PROFILES)[number]
export const DEFAULT_PROFILE: Profile = 'general'

/** True for "", "0", "00", "+0", "root", "0:0", "root:whatever": every form the runtimes treat as uid 0. */
export function isRootUser(user: string | undefined): boolean {
  const name = (user ?? '').split(':')[0]!.trim()
  return name === '' || name === 'root' || /^\+?0+$/.test(name)
}
