import {dirname, basename} from 'node:path'

import {usageError} from '../domain/errors.js'

/** How mindbg was started: as itself, as `kubectl mindbg` (bin/kubectl-mindbg.js) or as `docker mindbg` (bin/docker-mindbg.js). */
export type Entry = 'mindbg' | 'kubectl' | 'docker'

/** What mindbg runs with once a plugin's calling conventions are taken off: its own argv, and environment changes. */
export interface Invocation {
  argv: string[]
  /** Set, or (undefined) removed, in mindbg's environment before anything reads it. */
  env: Record<string, string | undefined>
}

/**
 * The entry a program name stands for: the single executable, linked or copied as kubectl-mindbg or docker-mindbg,
 * is that plugin (kubectl and docker find plugins by their file's name).
 */
export function entryOfName(programName: string): Entry | 'kubectl-complete' {
  const name = basename(programName)
  if (name.startsWith('kubectl_complete-')) return 'kubectl-complete'
  if (name.startsWith('kubectl-')) return 'kubectl'
  if (name.startsWith('docker-')) return 'docker'
  return 'mindbg'
}

/** What a Docker CLI plugin answers to `docker-cli-plugin-metadata` (the docker CLI asks every plugin it finds). */
export function dockerPluginMetadata(pjson: {version: string; homepage?: string}): string {
  const metadata = {SchemaVersion: '0.1.0', Vendor: 'mindbg', Version: pjson.version, ShortDescription: 'Debug a distroless or scratch container from a sidecar', ...(pjson.homepage ? {URL: pjson.homepage} : {})}
  return `${JSON.stringify(metadata)}\n`
}

export function invocation(entry: Entry, argv: string[], env: NodeJS.ProcessEnv): Invocation {
  if (entry === 'kubectl') return kubectlPlugin(argv)
  if (entry === 'docker') return dockerPlugin(argv, env)
  return {argv, env: {}}
}

// kubectl's connection flags, which a kubectl user puts anywhere: before the subcommand they are moved after it, where
// they are the command's own flags (KUBE_FLAGS).
const KUBECTL_GLOBAL = /^(-n|--namespace|--context|--kubeconfig|--request-timeout)(?:=(.*))?$/

/**
 * kubectl runs `kubectl-mindbg` with every word after `kubectl mindbg`, as typed (`kubectl mindbg -n shop attach
 * web` gives `-n shop attach web`). There a bare target name is a pod of the current namespace (MINDBG_RUNTIME).
 */
function kubectlPlugin(argv: string[]): Invocation {
  const globals: string[] = []
  let i = 0
  for (; i < argv.length; i++) {
    const m = KUBECTL_GLOBAL.exec(argv[i]!)
    if (!m) break
    if (m[2] !== undefined || i + 1 >= argv.length) globals.push(argv[i]!)
    else globals.push(argv[i]!, argv[++i]!)
  }
  const [command, ...rest] = argv.slice(i)
  const env = {MINDBG_RUNTIME: 'kubernetes'}
  if (command === undefined) return {argv: ['--help'], env}
  if (command.startsWith('-')) return {argv: [command, ...rest], env}
  return {argv: [command, ...globals, ...rest], env}
}

const DOCKER_VALUE_FLAGS = new Set(['--config', '-c', '--context', '-H', '--host', '-l', '--log-level', '--tlscacert', '--tlscert', '--tlskey'])
const DOCKER_BOOLEAN_FLAGS = new Set(['-D', '--debug', '--tls', '--tlsverify'])
const TLS_FILES: Record<string, string> = {'--tlscacert': 'ca.pem', '--tlscert': 'cert.pem', '--tlskey': 'key.pem'}

/**
 * The docker CLI runs a plugin with its own argv minus "docker": the global options the user typed, then the plugin's
 * name, then the plugin's words (`docker --context prod mindbg attach web` gives `--context prod mindbg attach web`);
 * it passes nothing of the connection in the environment (checked with docker 20.10 and 28). The options become the
 * environment the docker CLI itself would honour, with its precedence (--context over --host over DOCKER_HOST...).
 */
function dockerPlugin(argv: string[], env: NodeJS.ProcessEnv): Invocation {
  const options = new Map<string, string>()
  let i = 0
  for (; i < argv.length; i++) {
    const word = argv[i]!
    // As pflag reads them: --name=value, -Xvalue and -X=value besides --name value.
    const name = word.startsWith('--') ? word.replace(/=.*$/s, '') : word.slice(0, 2)
    const attached = word.length > name.length ? word.slice(name.length).replace(/^=/, '') : undefined
    if (DOCKER_VALUE_FLAGS.has(name)) {
      const value = attached ?? argv[++i]
      if (value === undefined) throw usageError(`docker option ${name} needs a value`)
      options.set(long(name), value)
    } else if (DOCKER_BOOLEAN_FLAGS.has(name)) {
      options.set(long(name), attached ?? 'true')
    } else if (word.startsWith('-')) {
      throw usageError(`docker option ${word} is not understood by docker mindbg`, 'Give mindbg the connection as DOCKER_HOST, DOCKER_CONTEXT or --context/--host.')
    } else break
  }
  const words = argv.slice(argv[i] === 'mindbg' ? i + 1 : i)
  const changes: Record<string, string | undefined> = {}
  const context = options.get('--context')
  const host = options.get('--host')
  if (context !== undefined && host !== undefined) throw usageError('conflicting options: cannot specify both --host and --context', 'Give one of the two.')
  if (options.has('--config')) changes.DOCKER_CONFIG = options.get('--config')
  if (host !== undefined) changes.DOCKER_HOST = host
  if (context !== undefined) {
    changes.DOCKER_CONTEXT = context
    // The default context is DOCKER_HOST's (or the local socket); any other one beats DOCKER_HOST.
    if (context !== 'default') changes.DOCKER_HOST = undefined
  }
  if (isTrue(options.get('--tlsverify')) || isTrue(options.get('--tls'))) changes.DOCKER_TLS_VERIFY = '1'
  const certDirs = new Set(Object.keys(TLS_FILES).filter((f) => options.has(f)).map((f) => certDir(f, options.get(f)!)))
  if (certDirs.size > 1) throw usageError('docker mindbg takes --tlscacert, --tlscert and --tlskey from one directory', 'Keep ca.pem, cert.pem and key.pem together, or set DOCKER_CERT_PATH.')
  for (const dir of certDirs) changes.DOCKER_CERT_PATH = dir
  if (isTrue(options.get('--debug'))) changes.DEBUG = env.DEBUG || '1'
  return {argv: words, env: changes}
}

const LONG: Record<string, string> = {'-c': '--context', '-H': '--host', '-l': '--log-level', '-D': '--debug'}
const long = (flag: string): string => LONG[flag] ?? flag
const isTrue = (value: string | undefined): boolean => value !== undefined && value !== 'false' && value !== '0'

/** docker-modem reads the TLS files from one directory under their usual names (DOCKER_CERT_PATH). */
function certDir(flag: string, file: string): string {
  if (basename(file) !== TLS_FILES[flag]) throw usageError(`docker mindbg needs ${flag} to name a file called ${TLS_FILES[flag]}, got ${file}`, 'Keep ca.pem, cert.pem and key.pem together, or set DOCKER_CERT_PATH.')
  return dirname(file)
}

/**
 * The docker CLI tells its plugins to end by closing the socket it names in DOCKER_CLI_PLUGIN_SOCKET (it signals
 * nothing when its output is no terminal): that close is a SIGTERM here, which ends the session as any stop does.
 */
export async function endWithDockerCli(address: string | undefined): Promise<void> {
  if (!address) return
  const {connect} = await import('node:net')
  // "@name" is Linux's abstract namespace, which node writes with a leading NUL.
  const socket = connect(address.startsWith('@') ? `\0${address.slice(1)}` : address)
  socket.on('error', () => {})
  socket.once('connect', () => socket.once('close', () => process.kill(process.pid, 'SIGTERM')))
  socket.unref()
}
