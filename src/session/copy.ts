import {existsSync, mkdtempSync, renameSync, rmSync, statSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {PassThrough, type Writable} from 'node:stream'

import {firstLine, MindbgError, usageError} from '../domain/errors.js'
import {extractTar, type ExtractSummary} from '../domain/tar.js'
import type {StepFiles, StepOutput, StepOutputs} from './evidence.js'
import {COLLECT_MISSING, type RunContext, runRunbook, type RunPlan, type TargetRecord, Backends, resolveTargets} from './run.js'
import type {Runbook} from './runbook.js'

export interface CopyRequest extends Omit<RunPlan, 'runbook' | 'selectors' | 'concurrency'> {
  path: string
  /** A local path, or "-" for the tar stream on stdout. */
  dest: string
  timeoutMs: number
}

export interface CopyContext extends Omit<RunContext, 'evidence' | 'onEvent'> {
  stdout: Writable
}

/**
 * `mindbg cp TARGET:PATH DEST`: a one-step run whose collect step's tar stream (read by the debugger's tar through
 * the target's root: the target needs no tar) is written to stdout, or extracted next to DEST and renamed into place,
 * modes and mtimes kept, streamed (memory stays flat whatever the size).
 */
export async function copyOut(request: CopyRequest, context: CopyContext): Promise<{summary: ExtractSummary | undefined; target: TargetRecord}> {
  const toStdout = request.dest === '-'
  const dest = toStdout ? '' : resolve(request.dest)
  const into = !toStdout && existsSync(dest) && statSync(dest).isDirectory()
  if (!toStdout && !into && !existsSync(dirname(dest))) throw usageError(`${request.dest}: no such directory ${dirname(dest)}`, 'Create it first, or copy somewhere else.')
  const name = request.path === '/' ? '' : basename(request.path)
  if (into && (name === '' || existsSync(join(dest, name)))) {
    throw usageError(`${join(request.dest, name)} exists already`, 'mindbg cp writes nothing over what is there: give a new path as DEST.')
  }
  const staging = toStdout ? '' : mkdtempSync(join(into ? dest : dirname(dest), '.mindbg-cp-'))
  const outputs = new CopyOutputs(toStdout ? context.stdout : undefined, staging)
  const runbook: Runbook = {
    name: 'cp',
    description: undefined,
    image: undefined,
    sibling: false,
    profile: undefined,
    timeoutMs: request.timeoutMs,
    steps: [{name: 'copy', kind: 'collect', path: request.path, timeoutMs: request.timeoutMs}],
    source: 'cp',
    text: '',
    sha256: '',
  }
  const backends = new Backends(request.backend)
  try {
    const {found: targets, missing} = await resolveTargets({refs: request.refs, selectors: []}, backends, context.signal)
    if (missing[0]) throw missing[0].error
    if (targets.length !== 1) throw usageError(`the source names ${targets.length} targets where one is needed`)
    const outcome = await runRunbook({...request, runbook, selectors: [], concurrency: 1}, targets, {...context, evidence: outputs, onEvent() {}})
    const target = outcome.targets[0]!
    const step = target.steps[0]!
    if (step.status !== 'ok') {
      if (outcome.incomplete) throw new MindbgError('usage', 'the copy was stopped')
      if (step.exitCode === COLLECT_MISSING) throw new MindbgError('pathNotFound', `${request.path}: no such file or directory in ${target.name}`, `Look first: mindbg attach ${target.ref} -- ls -la /proc/1/root${dirname(request.path)}`)
      if (step.exitCode === 127) throw new MindbgError('commandNotFound', firstLine(step.reason ?? '') || 'the debug image has no tar', 'Use --image with a debug image that has tar (the default busybox has it).')
      if (step.status === 'timeout') throw new MindbgError('usage', `the copy took longer than ${request.timeoutMs / 1000}s and was stopped`, 'Give it longer with --timeout.')
      throw new MindbgError(target.status === 'failed' ? 'sidecarFailed' : 'internal', `cannot copy ${request.path} from ${target.name}: ${step.reason ?? target.reason ?? `exit ${step.exitCode}`}`)
    }
    if (toStdout) return {summary: undefined, target}
    const summary = outputs.summary
    if (!summary) throw new MindbgError('internal', `cannot copy ${request.path}: ${outputs.error ?? 'nothing came back'}`)
    // PATH's last name (or, for "/", all of it) becomes DEST, or goes into DEST when it is a directory.
    renameSync(join(staging, name), into ? join(dest, name) : dest)
    return {summary, target}
  } finally {
    if (staging) rmSync(staging, {recursive: true, force: true})
    await backends.close()
  }
}

/** The collect step's output: to stdout as it comes, or extracted into the staging directory; stderr kept for errors. */
class CopyOutputs implements StepOutputs {
  summary: ExtractSummary | undefined
  error: string | undefined

  constructor(
    private readonly stdout: Writable | undefined,
    private readonly staging: string,
  ) {}

  step(): StepOutput {
    const stderr = new PassThrough()
    let tail = ''
    stderr.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('utf8')).slice(-2048)))
    const tar = this.stdout ? undefined : new PassThrough()
    const extracting = tar
      ? extractTar(tar, this.staging).then(
          (s) => void (this.summary = s),
          (e: unknown) => void (this.error = firstLine((e as Error).message)),
        )
      : Promise.resolve()
    const stdout = tar ?? this.stdout!
    const none = {file: '', bytes: 0, sha256: ''}
    return {
      sinks: {stdout: tar ?? passOn(stdout), stderr},
      close: async (): Promise<StepFiles> => {
        tar?.end()
        stderr.end()
        await extracting
        return {stdout: none, stderr: none, stderrTail: tail, ...(this.error ? {error: this.error} : {})}
      },
    }
  }
}

/** The process's stdout must not be ended by the step: a PassThrough in front of it, piped without end. */
function passOn(out: Writable): Writable {
  const through = new PassThrough()
  through.pipe(out, {end: false})
  return through
}
