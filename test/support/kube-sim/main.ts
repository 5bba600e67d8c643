/**
 * Launcher: `node test/support/kube-sim/main.ts --kubeconfig PATH [--user NAME] [--namespace NS[=level]]...
 *   [--report-delay MS] [--restart-backoff MS] [--log]`
 * (or `npm run kube-sim -- --kubeconfig PATH`).
 * Starts the simulator on a free 127.0.0.1 port, writes the kubeconfig atomically once it serves, prints
 *   kube-sim: serving on https://127.0.0.1:PORT, kubeconfig PATH
 * on stderr, and runs until SIGINT/SIGTERM (or SIGHUP), then removes every container it started and exits 0.
 * `--namespace locked=restricted` creates a namespace enforcing that PodSecurity level.
 * `--user NAME` writes the kubeconfig for a read-only user NAME (get/list/watch on everything, pods/log included).
 * `--report-delay MS`: how long after its start a container's state is reported (the kubelet's relist latency;
 * default 300, 0 for a kubelet with evented PLEG).
 * `--restart-backoff MS`: the first crash-loop back-off (default 1000; a kubelet's is 10 s).
 */
import {readFileSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {startKubeSim} from './server.ts'

const usage = 'usage: node test/support/kube-sim/main.ts --kubeconfig PATH [--user NAME] [--namespace NS[=privileged|baseline|restricted]]... [--report-delay MS] [--restart-backoff MS] [--log]'

async function main(): Promise<number> {
  let values: {kubeconfig?: string; user?: string; namespace?: string[]; 'report-delay'?: string; 'restart-backoff'?: string; log?: boolean; help?: boolean}
  try {
    ;({values} = parseArgs({options: {
      kubeconfig: {type: 'string'}, user: {type: 'string'}, namespace: {type: 'string', multiple: true}, 'report-delay': {type: 'string'},
      'restart-backoff': {type: 'string'}, log: {type: 'boolean'}, help: {type: 'boolean', short: 'h'},
    }}))
  } catch (err) {
    process.stderr.write(`kube-sim: ${(err as Error).message}\n${usage}\n`)
    return 2
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  if (!values.kubeconfig) {
    process.stderr.write(`kube-sim: --kubeconfig is required\n${usage}\n`)
    return 2
  }
  const delay = values['report-delay']
  const backoff = values['restart-backoff']
  for (const [flag, value] of [['--report-delay', delay], ['--restart-backoff', backoff]] as const) {
    if (value !== undefined && !/^\d+$/.test(value)) {
      process.stderr.write(`kube-sim: ${flag} takes milliseconds, not "${value}"\n${usage}\n`)
      return 2
    }
  }
  const user = values.user && values.user !== 'admin' ? values.user : undefined
  const namespaces = (values.namespace ?? []).map((n) => {
    const [name, level] = n.split('=')
    return level ? {name: name!, labels: {'pod-security.kubernetes.io/enforce': level}} : {name: name!}
  })
  const sim = await startKubeSim({
    namespaces,
    ...(delay !== undefined ? {runningReportDelayMs: Number(delay)} : {}),
    ...(backoff !== undefined ? {restartBackoffMs: Number(backoff)} : {}),
    ...(values.log ? {log: true} : {}),
    ...(user ? {rbac: {users: {[`kube-sim-${user}-token`]: {name: user, allow: [{verbs: ['get', 'list', 'watch'], resources: ['*']}]}}}} : {}),
  })
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    process.stderr.write(`kube-sim: ${signal}, removing containers\n`)
    const force = setTimeout(() => {
      process.stderr.write('kube-sim: cleanup took over 20 s, exiting anyway\n')
      process.exit(1)
    }, 20_000)
    try {
      await sim.close()
    } finally {
      clearTimeout(force)
    }
    process.exit(0)
  }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => void stop(s))
  // `npm run kube-sim` ended by a signal to npm: npm does not pass it on, so the simulator watches its launchers
  // (every ancestor up to the npm process) and stops as soon as one of them is gone.
  const launchers = npmAncestry()
  if (launchers.length > 0) {
    setInterval(() => {
      if (launchers.some((pid) => !alive(pid))) void stop('launcher gone')
    }, 250).unref()
  }
  try {
    sim.writeKubeconfig(values.kubeconfig, user ? {user} : {})
  } catch (err) {
    process.stderr.write(`kube-sim: cannot write ${values.kubeconfig}: ${(err as Error).message}\n`)
    await sim.close()
    return 1
  }
  process.stderr.write(`kube-sim: serving on ${sim.url}, kubeconfig ${values.kubeconfig}\n`)
  return -1 // keep running until a signal
}

/** The parent, its parent and so on up to the nearest npm process; nothing when npm did not start us. */
function npmAncestry(): number[] {
  const chain: number[] = []
  let pid = process.ppid
  for (let depth = 0; depth < 8 && pid > 1; depth++) {
    chain.push(pid)
    let cmdline = ''
    let stat = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      return []
    }
    // npm sets its process title to "npm run ..." (spaces); started as node npm-cli.js, its argv shows that.
    if (/(^|[/\0])npm(-cli\.js)?([\0 ]|$)/.test(cmdline)) return chain
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  }
  return []
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

main().then((code) => {
  if (code >= 0) process.exit(code)
}, (err: unknown) => {
  process.stderr.write(`kube-sim: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
