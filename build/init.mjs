// Compiles mindbg-init (src/backends/init.c) into dist/init/mindbg-init-<arch>, for every CPU a compiler is
// found for: the host's own gcc (required: Docker sessions need the init for the engine's CPU), and the cross
// compilers x86_64-linux-gnu-gcc / aarch64-linux-gnu-gcc (optional; scripts/provision.sh installs the aarch64 one).
// Each binary is then run once (natively, or under qemu-<cpu>-static when it is there) to check that it execs a
// command and passes its exit code on: a binary that cannot even do that is not shipped.
import {execFileSync, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {copyFileSync, mkdirSync, readFileSync} from 'node:fs'
import {arch} from 'node:os'

const SOURCE = 'src/backends/init.c'
const FLAGS = [
  '-static', '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-stack-protector', '-fno-asynchronous-unwind-tables',
  '-fno-pie', '-no-pie', '-Os', '-Wall', '-Wextra', '-Werror', '-s',
  '-Wl,--build-id=none', '-Wl,-z,norelro', '-Wl,-z,noseparate-code',
]
const host = arch() === 'x64' ? 'amd64' : arch()
const targets = [
  {arch: 'amd64', gcc: 'x86_64-linux-gnu-gcc', qemu: 'qemu-x86_64-static'},
  {arch: 'arm64', gcc: 'aarch64-linux-gnu-gcc', qemu: 'qemu-aarch64-static'},
]
const found = (command) => spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0

mkdirSync('dist/init', {recursive: true})
for (const t of targets) {
  const gcc = found(t.gcc) ? t.gcc : t.arch === host && found('gcc') ? 'gcc' : undefined
  if (!gcc) {
    if (t.arch === host) throw new Error(`build/init.mjs: no C compiler for ${t.arch} (apt-get install gcc)`)
    console.warn(`build/init.mjs: no ${t.gcc}: this build has no mindbg-init for ${t.arch} engines`)
    continue
  }
  const out = `dist/init/mindbg-init-${t.arch}`
  execFileSync(gcc, [...FLAGS, '-o', out, SOURCE], {stdio: 'inherit'})
  const runner = t.arch === host ? [] : found(t.qemu) ? [t.qemu] : undefined
  if (!runner) {
    console.warn(`build/init.mjs: ${out} built but not run: no ${t.qemu}`)
    continue
  }
  const [command, ...args] = [...runner, out, '/bin/sh', '-c', 'exit 7']
  const {status} = spawnSync(command, args, {stdio: 'inherit'})
  if (status !== 7) throw new Error(`build/init.mjs: ${out} ran "exit 7" and exited ${status}`)
}
// The same binaries under names that hold their content's hash, for a local engine to bind-mount into sidecars
// (src/backends/init.ts, initHostPath): a path that exists under that name anywhere has these very bytes.
mkdirSync('dist/init/by-hash', {recursive: true})
for (const t of targets) {
  const out = `dist/init/mindbg-init-${t.arch}`
  let bytes
  try {
    bytes = readFileSync(out)
  } catch {
    continue
  }
  copyFileSync(out, `dist/init/by-hash/mindbg-init-${t.arch}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`)
}
