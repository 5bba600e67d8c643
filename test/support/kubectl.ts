/** The real kubectl (installed by scripts/provision.sh), run asynchronously: the simulator answers from this process. */
import {execFile} from 'node:child_process'
import {join} from 'node:path'

import {ROOT} from '../e2e/helpers.js'

export const KUBECTL = join(ROOT, '.tools/bin/kubectl')

/** kubectl with `config` as its kubeconfig: its stdout, trimmed; a failure carries its stderr. */
export function kubectlWith(config: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(KUBECTL, ['--kubeconfig', config, ...args], {encoding: 'utf8'}, (error, stdout, stderr) =>
      error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout.trim()),
    )
  })
}
