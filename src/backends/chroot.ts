/** The PATH of a target that sets none (Docker's and the kubelet's default). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * --chroot without writing into the target (a container's root on Docker, a node's /host on Kubernetes): a small
 * shell keeps running with the debugger's own root, so its /proc/<pid>/root is the debug image's filesystem,
 * reachable from inside the chroot. Every directory of the debugger's PATH is reachable through that link, ahead of
 * the target's own PATH. The tools must be hard links or
 * real files (busybox images use hard links): an absolute symlink would be resolved inside the target instead.
 */
export const CHROOT_SCRIPT = [
  'k=$$',
  'tools= shell=',
  'IFS=:',
  'for d in $PATH; do',
  '  tools="$tools:/proc/$k/root$d"',
  '  [ -z "$shell" ] && [ -x "$d/sh" ] && shell=$(readlink -f "$d/sh")',
  'done',
  'unset IFS',
  // The debug tools come first: in a compromised target, "ls" must not run the target's binary as root.
  'export PATH="${tools#:}:$MINDBG_TARGET_PATH" HISTFILE=/dev/null',
  'if [ $# -eq 0 ]; then chroot "$MINDBG_TARGET_ROOT" "/proc/$k/root$shell"; else chroot "$MINDBG_TARGET_ROOT" "$@"; fi',
  'exit $?',
].join('\n')

/** The debugger's command under --chroot: the script above, then the user's command (none: a shell). */
export const chrootCommand = (command: string[]): string[] => ['sh', '-c', CHROOT_SCRIPT, 'mindbg-chroot', ...command]
