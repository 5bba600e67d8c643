/**
 * The process table of a container's PID namespace, read from the host's /proc (the engine runs on this machine):
 * no process is started to look, so looking changes nothing. State Z is a zombie, as `ps -o stat` shows it.
 */
import {readdirSync, readFileSync, readlinkSync} from 'node:fs'

export interface ProcessEntry {
  pid: number
  ppid: number
  state: string
  comm: string
}

function entry(pid: string): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const close = stat.lastIndexOf(')')
    const [state = '', ppid = '0'] = stat.slice(close + 2).split(' ')
    return {pid: Number(pid), ppid: Number(ppid), state, comm: stat.slice(stat.indexOf('(') + 1, close)}
  } catch {
    return undefined // ended meanwhile
  }
}

/** Every process in the PID namespace of host process `hostPid` (a container's PID 1), host PIDs. */
export function pidNamespaceProcesses(hostPid: number): ProcessEntry[] {
  const ns = readlinkSync(`/proc/${hostPid}/ns/pid`)
  const found: ProcessEntry[] = []
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readlinkSync(`/proc/${pid}/ns/pid`) !== ns) continue
    } catch {
      continue
    }
    const e = entry(pid)
    if (e) found.push(e)
  }
  return found.sort((a, b) => a.pid - b.pid)
}

/**
 * "pid state comm" lines, for assertions that show what was left when they fail. Running (R), sleeping (S, D, I)
 * are one state here, "S": which of them a live process is in at the moment of the read is the scheduler's business
 * (a target's server caught running once in CI); stopped (T, t) and zombie (Z, X) stay as they are.
 */
export const describeProcesses = (list: ProcessEntry[]): string[] => list.map((p) => `${p.pid} ${'RSDIW'.includes(p.state) ? 'S' : p.state} ${p.comm}`)
