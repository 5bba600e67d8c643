/**
 * Container spec -> Docker create options: what the kubelet + CRI runtime do with a container spec, mapped onto
 * Docker. Pure functions, no engine calls.
 *
 *   command/args      -> Entrypoint/Cmd (setting Entrypoint makes Docker drop the image's Cmd, as Kubernetes does),
 *                        with $(VAR) expansion from the container's env
 *   env               -> Env (value, valueFrom.fieldRef; configMap/secret references fail: no such resources here)
 *   securityContext   -> User (runAsUser[:runAsGroup], pod level as fallback), GroupAdd (supplementalGroups,
 *                        fsGroup), CapAdd/CapDrop, Privileged, ReadonlyRootfs, no-new-privileges for
 *                        allowPrivilegeEscalation=false, seccomp=unconfined unless RuntimeDefault/Localhost (the
 *                        kubelet's default is Unconfined; Localhost profiles cannot be loaded and use Docker's default)
 *   stdin/stdinOnce/tty -> OpenStdin/StdinOnce/Tty
 * Namespaces are joined by the caller (network/IPC of the pod's pause container, PID per shareProcessNamespace or
 * targetContainerName).
 */
import type {Obj} from './store.ts'

export class ConfigError extends Error {}

/** The pod fields a container can reference through env fieldRef. */
export function fieldRefValue(pod: Obj, fieldPath: string, podIP: string): string {
  const m = fieldPath.match(/^metadata\.(labels|annotations)\['(.*)'\]$/)
  if (m) return pod.metadata?.[m[1]!]?.[m[2]!] ?? ''
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata.name
    case 'metadata.namespace': return pod.metadata.namespace
    case 'metadata.uid': return pod.metadata.uid
    case 'spec.nodeName': return pod.spec?.nodeName ?? ''
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? ''
    case 'status.podIP': case 'status.hostIP': return podIP
    case 'status.podIPs': case 'status.hostIPs': return podIP
    default: throw new ConfigError(`unsupported fieldPath: ${fieldPath}`)
  }
}

/** Resolves env (in order, later entries may reference earlier ones), as the kubelet's makeEnvironmentVariables. */
export function resolveEnv(pod: Obj, c: Obj, podIP: string): Array<[string, string]> {
  const out = new Map<string, string>()
  for (const src of c.envFrom ?? []) {
    const ref = src.configMapRef ?? src.secretRef
    if (ref && !ref.optional) throw new ConfigError(`${src.configMapRef ? 'configmap' : 'secret'} "${ref.name}" not found`)
  }
  for (const e of c.env ?? []) {
    if (!e?.name) continue
    if (e.valueFrom) {
      const vf = e.valueFrom
      if (vf.fieldRef) out.set(e.name, fieldRefValue(pod, vf.fieldRef.fieldPath, podIP))
      else if (vf.configMapKeyRef) {
        if (!vf.configMapKeyRef.optional) throw new ConfigError(`configmap "${vf.configMapKeyRef.name}" not found`)
      } else if (vf.secretKeyRef) {
        if (!vf.secretKeyRef.optional) throw new ConfigError(`secret "${vf.secretKeyRef.name}" not found`)
      } else if (vf.resourceFieldRef) out.set(e.name, '0')
    } else out.set(e.name, expand(String(e.value ?? ''), out))
  }
  return [...out]
}

/** $(VAR) expansion (k8s.io/kubernetes/third_party/forked/golang/expansion): $$ escapes, unknown refs stay. */
export function expand(input: string, env: Map<string, string>): string {
  return input.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$'
    return env.has(name!) ? env.get(name!)! : m
  })
}

export interface EffectiveSecurity {
  uid?: number
  gid?: number
  runAsNonRoot?: boolean
  seccomp?: string
}

/** DetermineEffectiveSecurityContext: container fields win over the pod's. */
export function effectiveSecurity(podSC: Obj | undefined, sc: Obj | undefined): EffectiveSecurity {
  const out: EffectiveSecurity = {}
  const uid = sc?.runAsUser ?? podSC?.runAsUser
  const gid = sc?.runAsGroup ?? podSC?.runAsGroup
  const nonRoot = sc?.runAsNonRoot ?? podSC?.runAsNonRoot
  const seccomp = sc?.seccompProfile?.type ?? podSC?.seccompProfile?.type
  if (typeof uid === 'number') out.uid = uid
  if (typeof gid === 'number') out.gid = gid
  if (typeof nonRoot === 'boolean') out.runAsNonRoot = nonRoot
  if (typeof seccomp === 'string') out.seccomp = seccomp
  return out
}

/** The image's USER as the kubelet sees it: a numeric uid, or a user name it cannot verify. */
export function imageUser(user: string | undefined): {uid?: number; name?: string} {
  const u = (user ?? '').split(':')[0]!
  if (u === '') return {uid: 0}
  if (/^\d+$/.test(u)) return {uid: Number(u)}
  return {name: u}
}

/**
 * kubelet verifyRunAsNonRoot: the message becomes the CreateContainerConfigError waiting message.
 * `podRef` is format.Pod(pod): name_namespace(uid).
 */
export function verifyRunAsNonRoot(eff: EffectiveSecurity, image: {uid?: number; name?: string}, podRef: string, container: string): string | undefined {
  if (eff.runAsNonRoot !== true) return undefined
  if (eff.uid !== undefined) {
    return eff.uid === 0 ? `container's runAsUser breaks non-root policy (pod: "${podRef}", container: ${container})` : undefined
  }
  if (image.uid === 0) return `container has runAsNonRoot and image will run as root (pod: "${podRef}", container: ${container})`
  if (image.uid === undefined && image.name) {
    return `container has runAsNonRoot and image has non-numeric user (${image.name}), cannot verify user is non-root (pod: "${podRef}", container: ${container})`
  }
  return undefined
}

const capName = (c: string): string => (c === 'ALL' ? 'ALL' : c.startsWith('CAP_') ? c : `CAP_${c}`)

export interface DockerSpecInput {
  pod: Obj
  container: Obj
  podIP: string
  imageRef: string
  imageConfigUser: string | undefined
  name: string
  labels: Record<string, string>
  networkMode: string
  ipcMode: string
  pidMode?: string
  /** The container's volumeMounts as Docker mounts (the backend knows the pod's volumes). */
  mounts?: Obj[]
}

export function dockerCreateOptions(i: DockerSpecInput): Obj {
  const {pod, container: c} = i
  const podSC: Obj = pod.spec?.securityContext ?? {}
  const sc: Obj = c.securityContext ?? {}
  const env = resolveEnv(pod, c, i.podIP)
  const envMap = new Map(env)
  const eff = effectiveSecurity(podSC, sc)
  let user: string | undefined
  if (eff.uid !== undefined) user = eff.gid !== undefined ? `${eff.uid}:${eff.gid}` : String(eff.uid)
  else if (eff.gid !== undefined) user = `${(i.imageConfigUser ?? '').split(':')[0] || '0'}:${eff.gid}`
  const groups = [...(podSC.supplementalGroups ?? []), ...(podSC.fsGroup !== undefined ? [podSC.fsGroup] : [])].map(String)
  const securityOpt: string[] = []
  if (sc.allowPrivilegeEscalation === false) securityOpt.push('no-new-privileges:true')
  if (eff.seccomp !== 'RuntimeDefault' && eff.seccomp !== 'Localhost' && sc.privileged !== true) securityOpt.push('seccomp=unconfined')
  const hostConfig: Obj = {
    NetworkMode: i.networkMode,
    IpcMode: i.ipcMode,
    Privileged: sc.privileged === true,
    ReadonlyRootfs: sc.readOnlyRootFilesystem === true,
    CapAdd: (sc.capabilities?.add ?? []).map(capName),
    CapDrop: (sc.capabilities?.drop ?? []).map(capName),
    SecurityOpt: securityOpt,
    RestartPolicy: {Name: 'no'},
    LogConfig: {Type: 'local', Config: {}},
  }
  if (i.pidMode) hostConfig.PidMode = i.pidMode
  if (i.mounts && i.mounts.length > 0) hostConfig.Mounts = i.mounts
  if (groups.length > 0) hostConfig.GroupAdd = groups
  const opts: Obj = {
    name: i.name,
    Image: i.imageRef,
    Env: env.map(([k, v]) => `${k}=${v}`),
    Labels: i.labels,
    Tty: c.tty === true,
    OpenStdin: c.stdin === true,
    StdinOnce: c.stdinOnce === true,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: hostConfig,
  }
  if (Array.isArray(c.command) && c.command.length > 0) opts.Entrypoint = c.command.map((s: unknown) => expand(String(s), envMap))
  if (Array.isArray(c.args) && c.args.length > 0) opts.Cmd = c.args.map((s: unknown) => expand(String(s), envMap))
  else if (opts.Entrypoint) opts.Cmd = []
  if (c.workingDir) opts.WorkingDir = c.workingDir
  if (user !== undefined) opts.User = user
  return opts
}
