import type {SidecarSummary} from './runtime/docker-engine.js'

/** Why a sidecar is an orphan, or undefined if it may still belong to a live session. */
export function orphanReason(s: Pick<SidecarSummary, 'state' | 'targetState'>): string | undefined {
  if (s.targetState === 'gone') return 'target removed'
  if (s.state !== 'running') return `sidecar ${s.state}`
  if (s.targetState !== 'running') return `target ${s.targetState}`
  return undefined
}
