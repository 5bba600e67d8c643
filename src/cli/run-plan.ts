import {MindbgError, usageError} from '../domain/errors.js'
import {parseDuration} from '../domain/duration.js'
import {defaultRuntime, parseLabelSelector, parseTarget, type Runtime, type TargetRef, type TargetSelector} from '../domain/target.js'
import {describeRef} from '../session/audit.js'
import type {RunPlan} from '../session/run.js'
import type {Runbook} from '../session/runbook.js'
import {type AttachFlags, flagsOnlyFor, given, kubeConnection, RUN_FLAGS, type RunFlags, targetContainer} from './flag-table.js'
import {debuggerRequest, kubeFlagsInto} from './attach-plan.js'
import type {MindbgConfig} from './config.js'

export interface RunInput {
  runbook: Runbook
  targets: string[]
  flags: RunFlags
  env: NodeJS.ProcessEnv
  config: MindbgConfig
}

const KUBE_SCOPE = flagsOnlyFor(RUN_FLAGS, 'kubernetes').filter((f) => f !== 'target-container' && f !== 'target' && f !== 'custom' && f !== 'start-timeout')

/** Complete, then validate: the runbook's settings under the flags, the targets and selectors, before anything runs. */
export function planRun({runbook, targets, flags, env, config}: RunInput): RunPlan {
  const bareNames = defaultRuntime(env)
  const refs: TargetRef[] = targets.map((t) => kubeFlagsInto(parseTarget(t, bareNames), flags))
  const kube = KUBE_SCOPE.some((f) => given(flags[f as keyof RunFlags]))
  // `kubectl mindbg run -l app=web` selects pods, as its bare names are pods.
  const selectPods = kube || bareNames === 'kubernetes'
  const selectors: TargetSelector[] = (flags.selector ?? []).map((labels) => {
    parseLabelSelector(labels)
    return selectPods
      ? {runtime: 'kubernetes', labels, namespace: flags.namespace, allNamespaces: Boolean(flags['all-namespaces']), container: targetContainer(flags)}
      : {runtime: 'docker', labels}
  })
  if (refs.length === 0 && selectors.length === 0) {
    throw usageError('no targets', 'Name containers or pods (mindbg run triage web pod/api), or select them by label: -l app=web.')
  }
  if (flags['all-namespaces'] && flags.namespace !== undefined) throw usageError('--all-namespaces and --namespace both choose where pods are selected', 'Use one of the two.')
  if ((flags['all-namespaces'] || flags.kubernetes) && selectors.length === 0) throw usageError(`--${flags['all-namespaces'] ? 'all-namespaces' : 'kubernetes'} goes with -l`, 'Select pods by label: -l app=web --kubernetes.')
  const dockerRefs = refs.filter((r) => r.runtime === 'docker')
  if (kube && dockerRefs.length > 0 && flags.selector === undefined) {
    const used = KUBE_SCOPE.find((f) => given(flags[f as keyof RunFlags]))
    throw usageError(`--${used} is for Kubernetes targets, but ${dockerRefs[0]!.ref} is a container name`, 'Write pods as pod/NAME or k8s://NAMESPACE/POD.')
  }
  const concurrency = Number(flags.concurrency ?? 8)
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw usageError(`bad --concurrency "${flags.concurrency}"`, 'Use a whole number from 1 to 256.')

  // Flags beat the runbook, which beats the environment and the config file.
  const image = flags.image ?? (flags.sibling ? undefined : runbook.image)
  const request = debuggerRequest({
    flags: {...flags, image, sibling: flags.sibling ?? (flags.image === undefined && runbook.sibling ? true : undefined), profile: flags.profile ?? runbook.profile, timeout: flags['start-timeout']} as AttachFlags,
    env,
    command: [],
    config,
  })
  if (flags['shared-debugger']) {
    request.shared = true
    checkShared(flags, request, refs, selectors)
  }
  const stepTimeout = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout')
  const steps = stepTimeout === undefined ? runbook.steps : runbook.steps.map((s) => ({...s, timeoutMs: stepTimeout}))
  return {runbook: {...runbook, steps}, refs, selectors, request, backend: kubeConnection(flags), concurrency}
}

/**
 * What one debugger for every target cannot do: Kubernetes targets (a pod's debugger is its own ephemeral container),
 * a debug image per target (--sibling), and settings that shape one sidecar's security (its steps run as root with
 * the general profile's capabilities, whatever the runbook asks).
 */
function checkShared(flags: RunFlags, request: RunPlan['request'], refs: TargetRef[], selectors: TargetSelector[]): void {
  const podRef = refs.find((r) => r.runtime !== 'docker')
  const pod = podRef ? describeRef(podRef) : selectors.find((s) => s.runtime !== 'docker')?.labels
  if (pod !== undefined) throw usageError(`--shared-debugger is for Docker and Podman containers, but ${pod} is Kubernetes`, 'Run pods without it: each gets an ephemeral container, as kubectl debug does.')
  const image = refs.find((r) => r.runtime === 'docker' && r.image)
  if (image?.runtime === 'docker') throw usageError(`--shared-debugger cannot debug ${image.ref}: an image has no processes to enter`, 'Run it without --shared-debugger: a stand-in container is made for it.')
  const refused = [
    request.imageSource === 'sibling' && '--sibling (a debug image per target)',
    request.profile !== 'general' && `--profile ${request.profile}`,
    (flags.privileged || request.privileged) && '--privileged',
    request.capAdd.length > 0 && '--cap-add',
    request.user !== undefined && '--user',
    request.workdir !== undefined && '--workdir',
    flags['stop-restarts'] && '--stop-restarts',
  ].find((x): x is string => typeof x === 'string')
  if (refused) throw usageError(`--shared-debugger and ${refused} do not go together`, `The shared debugger runs every step as root with the general profile's capabilities; for ${refused.split(' ')[0]}, run without --shared-debugger (a sidecar per target).`)
}

/** `cp TARGET:PATH DEST`: the target and the absolute path in its filesystem. */
export function parseCopySource(source: string, bareNames: Runtime = 'docker'): {target: TargetRef; path: string} {
  const at = source.indexOf(':/')
  // "docker://web:/etc" and "k8s://ns/pod:/etc": the scheme's colon is not the separator.
  const colon = source.startsWith('docker://') || source.startsWith('k8s://') || source.startsWith('kubernetes://') ? source.indexOf(':/', source.indexOf('://') + 3) : at
  if (colon <= 0) throw usageError(`bad source "${source}"`, 'Use TARGET:/ABSOLUTE/PATH, e.g. mindbg cp web:/etc/app ./app or pod/api:/tmp/heap.hprof -.')
  const path = source.slice(colon + 1).replace(/\/+$/, '') || '/'
  if (path.split('/').includes('..')) throw new MindbgError('usage', `bad path "${path}": ".." is not allowed`, 'Give the path as the target sees it, from /.')
  return {target: parseTarget(source.slice(0, colon), bareNames), path}
}
