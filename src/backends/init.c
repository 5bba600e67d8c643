/*
 * mindbg-init: the first process of every debugger. Docker (and Podman) sidecars get it put into them before they
 * start; a Kubernetes debugger cannot be given a file, so its wrapper receives it on the session's stream, writes it
 * where it can and runs it with MINDBG_INIT_UNLINK naming that file: it is removed at once, and the variable too.
 *
 * Why it exists: a sidecar shares the target's PID namespace, so a process it starts whose parent ends first is
 * re-parented to the target's PID 1, and a distroless application never reaps it: it stays a zombie until the
 * target restarts. The engines' own init (docker run --init) is not used in a shared PID namespace. So this:
 *   - registers as a child subreaper: orphans of the session come here instead, and are reaped as they end;
 *   - runs the command (PATH searched as execvp does) in its own process group, given the terminal if there is one;
 *   - forwards the signals it is sent to the command, except SIGTERM, which ends the session (mindbg's stop);
 *   - when the command ends, or on SIGTERM, kills what the session left behind and reaps it before exiting with the
 *     command's status (128+N for a signal, 143 after SIGTERM): nothing is left for the target's PID 1;
 *   - with MINDBG_TIMEOUT_MS=N (a runbook step's deadline; the variable does not reach the command), after N ms
 *     kills the command's process group and everything else it started, and exits 124 as timeout(1) does;
 *   - as `mindbg-init --enter PID COMMAND...` (a runbook's shared debugger, which runs in the host's PID namespace),
 *     first enters the IPC, UTS, network and PID namespaces of the target's process PID, then, in a child (the first
 *     process in the target's PID namespace: a subreaper only counts for orphans of its own namespace), takes a mount
 *     namespace of its own with a /proc of the target's PID namespace, gives up CAP_SYS_ADMIN, and goes on as above;
 *     the parent stays outside, forwards every signal to it and exits with its status;
 *   - as `mindbg-init --mux`, the main process of a run's shared debugger: many sessions over its one stdin and
 *     stdout, in frames (below), each session a `mindbg-init --enter PID COMMAND...` of its own with its own stdin,
 *     stdout, stderr and exit status, so that a target costs a fork instead of an engine's exec; when its stdin ends
 *     (mindbg is gone) or on SIGTERM, it ends every session and exits once they have;
 *   - as `mindbg-init --hold`, runs nothing: it is the one process of a stand-in for a target that is not running (a
 *     container made from a stopped container's snapshot, or from an image), so that a debugger has a PID namespace
 *     to join and the stand-in's filesystem at /proc/1/root; it reaps what ends up under it and exits 0 on SIGTERM;
 *   - as `mindbg-init --copy-in file|pipe PPID`, on mindbg's own machine, copies a session's input from mindbg's
 *     stdin into the engine's attach socket inside the kernel (copy_in, below).
 *
 * No libc: the same few hundred bytes of code for any debug image (static, no loader, no /tmp), small enough to send
 * with every session. Linux x86_64 and aarch64.
 */

typedef unsigned long u64;
typedef long i64;

#if defined(__x86_64__)
enum { NR_read = 0, NR_write = 1, NR_close = 3, NR_rt_sigprocmask = 14, NR_ioctl = 16, NR_getpid = 39, NR_clone = 56,
       NR_execve = 59, NR_wait4 = 61, NR_kill = 62, NR_setpgid = 109, NR_rt_sigtimedwait = 128, NR_prctl = 157,
       NR_getdents64 = 217, NR_exit_group = 231, NR_openat = 257, NR_unlinkat = 263, NR_setitimer = 38, NR_setns = 308,
       NR_unshare = 272, NR_mount = 165, NR_capget = 125, NR_capset = 126, NR_pipe2 = 293, NR_dup3 = 292, NR_ppoll = 271,
       NR_signalfd4 = 289, NR_sendfile = 40, NR_splice = 275, NR_shutdown = 48, NR_getppid = 110 };
static i64 sys6(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f) {
  register i64 r10 __asm__("r10") = d;
  register i64 r8 __asm__("r8") = e;
  register i64 r9 __asm__("r9") = f;
  i64 ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
  return ret;
}
__asm__(".text\n.global _start\n_start:\n xor %rbp,%rbp\n mov %rsp,%rdi\n and $-16,%rsp\n call start\n hlt\n");
#elif defined(__aarch64__)
enum { NR_unlinkat = 35, NR_ioctl = 29, NR_openat = 56, NR_close = 57, NR_getdents64 = 61, NR_read = 63, NR_write = 64, NR_exit_group = 94,
       NR_kill = 129, NR_rt_sigprocmask = 135, NR_rt_sigtimedwait = 137, NR_setpgid = 154, NR_prctl = 167,
       NR_getpid = 172, NR_clone = 220, NR_execve = 221, NR_wait4 = 260, NR_setitimer = 103, NR_setns = 268,
       NR_unshare = 97, NR_mount = 40, NR_capget = 90, NR_capset = 91, NR_pipe2 = 59, NR_dup3 = 24, NR_ppoll = 73,
       NR_signalfd4 = 74, NR_sendfile = 71, NR_splice = 76, NR_shutdown = 210, NR_getppid = 173 };
static i64 sys6(i64 n, i64 a, i64 b, i64 c, i64 d, i64 e, i64 f) {
  register i64 x8 __asm__("x8") = n;
  register i64 x0 __asm__("x0") = a;
  register i64 x1 __asm__("x1") = b;
  register i64 x2 __asm__("x2") = c;
  register i64 x3 __asm__("x3") = d;
  register i64 x4 __asm__("x4") = e;
  register i64 x5 __asm__("x5") = f;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
  return x0;
}
__asm__(".text\n.global _start\n_start:\n mov x29, #0\n mov x30, #0\n mov x0, sp\n bl start\n");
#else
#error "mindbg-init supports x86_64 and aarch64"
#endif

#define sys0(n) sys6(n, 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6(n, (i64)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (i64)(a), (i64)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (i64)(a), (i64)(b), (i64)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (i64)(a), (i64)(b), (i64)(c), (i64)(d), 0, 0)

enum { SIGHUP = 1, SIGINT = 2, SIGKILL = 9, SIGALRM = 14, SIGTERM = 15, SIGCHLD = 17, SIG_SETMASK = 2, WNOHANG = 1, ECHILD = 10, EACCES = 13,
       PR_SET_CHILD_SUBREAPER = 36, TIOCSPGRP = 0x5410, AT_FDCWD = -100, O_RDONLY = 0, O_DIRECTORY = 0200000,
       O_CLOEXEC = 02000000, CLONE_NEWNS = 0x20000, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REC = 16384,
       MS_PRIVATE = 1 << 18, PR_CAPBSET_DROP = 24, CAP_SYS_ADMIN = 21 };

/* gcc may call these for struct copies even when freestanding. */
void *memset(void *d, int c, u64 n) { unsigned char *p = d; while (n--) *p++ = (unsigned char)c; return d; }
void *memcpy(void *d, const void *s, u64 n) { unsigned char *p = d; const unsigned char *q = s; while (n--) *p++ = *q++; return d; }

static u64 len(const char *s) { u64 n = 0; while (s[n]) n++; return n; }
static void say(const char *s) { sys3(NR_write, 2, s, len(s)); }
static void die(int code) { for (;;) sys1(NR_exit_group, code); }

static int status_code(int status) {
  int sig = status & 0x7f;
  return sig == 0 ? (status >> 8) & 0xff : 128 + sig;
}

/* Kills every child of this process, reaps it, and goes on with the grandchildren re-parented here meanwhile. */
static void end_descendants(int self) {
  static char buf[4096];
  for (;;) {
    int dir = (int)sys4(NR_openat, AT_FDCWD, "/proc", O_RDONLY | O_DIRECTORY, 0);
    if (dir >= 0) {
      i64 n;
      while ((n = sys3(NR_getdents64, dir, buf, sizeof buf)) > 0) {
        for (i64 off = 0; off < n;) {
          /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name */
          unsigned short reclen = *(unsigned short *)(buf + off + 16);
          const char *name = buf + off + 19;
          off += reclen;
          int pid = 0;
          for (const char *c = name; *c; c++) {
            if (*c < '0' || *c > '9') { pid = 0; break; }
            pid = pid * 10 + (*c - '0');
          }
          if (pid <= 1 || pid == self) continue;
          char path[32] = "/proc/", stat[512];
          u64 p = 6;
          for (const char *c = name; *c && p < sizeof path - 6; c++) path[p++] = *c;
          memcpy(path + p, "/stat", 6);
          int fd = (int)sys4(NR_openat, AT_FDCWD, path, O_RDONLY, 0);
          if (fd < 0) continue;
          i64 got = sys3(NR_read, fd, stat, sizeof stat - 1);
          sys1(NR_close, fd);
          if (got <= 0) continue;
          stat[got] = 0;
          /* "pid (comm) state ppid ...": comm may hold spaces and parentheses, so from the last ')'. */
          char *q = 0;
          for (char *c = stat; *c; c++) if (*c == ')') q = c;
          if (!q || !q[1] || !q[2] || !q[3]) continue;
          int ppid = 0;
          for (q += 4; *q >= '0' && *q <= '9'; q++) ppid = ppid * 10 + (*q - '0');
          if (ppid == self) sys2(NR_kill, pid, SIGKILL);
        }
      }
      sys1(NR_close, dir);
    }
    int status;
    if (sys4(NR_wait4, -1, &status, 0, 0) == -ECHILD) return;
  }
}

static void run(char **argv, char **envp) {
  const char *file = argv[0];
  int denied = 0;
  for (const char *c = file; *c; c++) {
    if (*c == '/') {
      i64 r = sys3(NR_execve, file, argv, envp);
      denied = r == -EACCES;
      goto failed;
    }
  }
  const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (char **e = envp; *e; e++) {
    const char *v = *e;
    if (v[0] == 'P' && v[1] == 'A' && v[2] == 'T' && v[3] == 'H' && v[4] == '=') path = v + 5;
  }
  static char candidate[4096];
  u64 flen = len(file);
  for (const char *dir = path;;) {
    const char *end = dir;
    while (*end && *end != ':') end++;
    u64 dlen = (u64)(end - dir);
    if (dlen + flen + 2 < sizeof candidate) {
      memcpy(candidate, dir, dlen);
      u64 p = dlen;
      if (p == 0) candidate[p++] = '.';
      candidate[p++] = '/';
      memcpy(candidate + p, file, flen + 1);
      if (sys3(NR_execve, candidate, argv, envp) == -EACCES) denied = 1;
    }
    if (!*end) break;
    dir = end + 1;
  }
failed:
  say("mindbg: ");
  say(file);
  say(denied ? ": permission denied in the debug image\nHint: it is not executable for the sidecar's user; check its mode, or run it with sh.\n"
             : ": command not found in the debug image\nHint: use --image with a debug image that has it (or give its full path).\n");
  die(denied ? 126 : 127);
}

/* The value of the variable `prefix` names ("NAME="), taken out of envp so that the command never sees it. */
static int same(const char *a, const char *b) {
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

static void hold(void) {
  u64 all = ~0UL;
  static char info[128];
  sys4(NR_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  for (;;) {
    int sig = (int)sys4(NR_rt_sigtimedwait, &all, info, 0, 8);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) die(0);
    while (sig == SIGCHLD && sys4(NR_wait4, -1, 0, WNOHANG, 0) > 0) {
    }
  }
}

static const char *take_env(char **envp, const char *prefix) {
  for (char **e = envp; *e; e++) {
    u64 i = 0;
    while (prefix[i] && (*e)[i] == prefix[i]) i++;
    if (prefix[i]) continue;
    const char *value = *e + i;
    for (char **d = e; *d; d++) d[0] = d[1];
    return value;
  }
  return 0;
}

static void fail_enter(const char *what, const char *pid, int gone) {
  say("mindbg: cannot ");
  say(what);
  say(" of the target's process ");
  say(pid);
  say(gone ? "\nHint: the target stopped, or restarted: run the runbook again.\n"
           : "\nHint: the shared debugger needs CAP_SYS_ADMIN and the host's PID namespace; run without --shared-debugger.\n");
  die(125);
}

/* --enter PID: returns in the child, inside the target's namespaces; the parent never returns. */
static void enter(const char *pid) {
  static const char *const kinds[] = {"ipc", "uts", "net", "pid"};
  int fds[4];
  /* All opened before any is entered: /proc/PID is looked up in this (the host's) PID namespace. */
  for (int i = 0; i < 4; i++) {
    char path[64] = "/proc/";
    u64 p = 6;
    for (const char *c = pid; *c && p < 40; c++) path[p++] = *c;
    memcpy(path + p, "/ns/", 4);
    p += 4;
    for (const char *c = kinds[i]; *c; c++) path[p++] = *c;
    path[p] = 0;
    fds[i] = (int)sys4(NR_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    if (fds[i] < 0) fail_enter("find the namespaces", pid, 1);
  }
  for (int i = 0; i < 4; i++) {
    if (sys2(NR_setns, fds[i], 0) < 0) fail_enter(i == 3 ? "enter the PID namespace" : i == 2 ? "enter the network namespace" : "enter the IPC and UTS namespaces", pid, 0);
    sys1(NR_close, fds[i]);
  }
  int child = (int)sys6(NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
  if (child < 0) {
    say("mindbg: cannot start the command (fork failed)\n");
    die(125);
  }
  if (child == 0) {
    /* Its own mount namespace, so that the /proc of the target's PID namespace is seen by this session alone. */
    if (sys1(NR_unshare, CLONE_NEWNS) < 0 || sys6(NR_mount, 0, (i64) "/", 0, MS_REC | MS_PRIVATE, 0, 0) < 0 ||
        sys6(NR_mount, (i64) "proc", (i64) "/proc", (i64) "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, 0) < 0)
      fail_enter("mount a /proc for the PID namespace", pid, 0);
    /* What was needed to get here is not the session's: without CAP_SYS_ADMIN it cannot leave these namespaces. */
    struct { unsigned version; int pid; } header = {0x20080522, 0};
    struct { unsigned effective, permitted, inheritable; } caps[2];
    sys2(NR_prctl, PR_CAPBSET_DROP, CAP_SYS_ADMIN);
    if (sys2(NR_capget, &header, caps) == 0) {
      caps[0].effective &= ~(1U << CAP_SYS_ADMIN);
      caps[0].permitted &= ~(1U << CAP_SYS_ADMIN);
      caps[0].inheritable &= ~(1U << CAP_SYS_ADMIN);
      sys2(NR_capset, &header, caps);
    }
    return;
  }
  static char info[128];
  u64 all = ~0UL;
  for (;;) {
    int sig = (int)sys4(NR_rt_sigtimedwait, &all, info, 0, 8);
    if (sig == SIGCHLD) {
      int status;
      if (sys4(NR_wait4, child, &status, WNOHANG, 0) == child) die(status_code(status));
    } else if (sig > 0) {
      sys2(NR_kill, child, sig);
    }
  }
}

/*
 * --mux frames, both ways: a header of 8 bytes, the session (u32, little-endian) and kind << 24 | payload length
 * (u32), then the payload. From mindbg: OPEN (the target's PID, NUL-ended; NAME=VALUE strings for the environment,
 * each NUL-ended; an empty string; the command's words, each NUL-ended), IN (bytes for the session's stdin), EOF
 * (its stdin ends), SIGNAL (one byte: a signal for it). To mindbg: OUT and ERR (its stdout and stderr), then EXIT
 * (its status, u32) once it has been reaped and both of its outputs have ended. src/backends/docker/mux.ts is the
 * other side.
 */
enum { F_OPEN = 1, F_IN = 2, F_EOF = 3, F_SIGNAL = 4, F_OUT = 5, F_ERR = 6, F_EXIT = 7, MAX_SESSIONS = 256,
       MAX_PAYLOAD = 65536, O_CLOEXEC_PIPE = 02000000, POLLIN = 1, EINTR = 4, EAGAIN = 11 };

struct session { unsigned id; int pid, in, out, err, status, reaped, used; };
static struct session sessions[MAX_SESSIONS];

static void put32(unsigned char *p, unsigned v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static unsigned get32(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24; }

static void write_all(int fd, const void *data, u64 n) {
  const char *p = data;
  while (n) {
    i64 w = sys3(NR_write, fd, p, n);
    if (w == -EINTR || w == -EAGAIN) continue;
    if (w <= 0) return;
    p += w;
    n -= (u64)w;
  }
}

static void send_frame(unsigned id, unsigned kind, const void *data, u64 n) {
  static unsigned char frame[8 + MAX_PAYLOAD];
  put32(frame, id);
  put32(frame + 4, kind << 24 | (unsigned)n);
  memcpy(frame + 8, data, n);
  write_all(1, frame, 8 + n);
}

static void open_session(unsigned id, char *payload, u64 n, char **envp) {
  static char *args[1024], *env[1024];
  u64 na = 0, ne = 0, off = 0;
  char *pid = payload;
  while (off < n && payload[off]) off++;
  off++;
  for (;;) {
    if (off >= n) break;
    char *word = payload + off;
    while (off < n && payload[off]) off++;
    off++;
    if (!*word) break;
    if (ne < 512) env[ne++] = word;
  }
  args[na++] = "mindbg-init";
  args[na++] = "--enter";
  args[na++] = pid;
  while (off < n && na < 1020) {
    args[na++] = payload + off;
    while (off < n && payload[off]) off++;
    off++;
  }
  args[na] = 0;
  for (char **e = envp; *e && ne < 1020; e++) env[ne++] = *e;
  env[ne] = 0;
  struct session *s = 0;
  for (int i = 0; i < MAX_SESSIONS && !s; i++) if (!sessions[i].used) s = &sessions[i];
  int in[2], out[2], err[2];
  if (!s || na < 4 || sys2(NR_pipe2, in, O_CLOEXEC_PIPE) < 0) goto failed;
  if (sys2(NR_pipe2, out, O_CLOEXEC_PIPE) < 0) { sys1(NR_close, in[0]); sys1(NR_close, in[1]); goto failed; }
  if (sys2(NR_pipe2, err, O_CLOEXEC_PIPE) < 0) { sys1(NR_close, in[0]); sys1(NR_close, in[1]); sys1(NR_close, out[0]); sys1(NR_close, out[1]); goto failed; }
  int child = (int)sys6(NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
  if (child == 0) {
    sys3(NR_dup3, in[0], 0, 0);
    sys3(NR_dup3, out[1], 1, 0);
    sys3(NR_dup3, err[1], 2, 0);
    sys3(NR_execve, "/proc/self/exe", args, env);
    say("mindbg: the shared debugger cannot run mindbg-init\n");
    die(125);
  }
  sys1(NR_close, in[0]);
  sys1(NR_close, out[1]);
  sys1(NR_close, err[1]);
  if (child < 0) {
    sys1(NR_close, in[1]); sys1(NR_close, out[0]); sys1(NR_close, err[0]);
    goto failed;
  }
  *s = (struct session){id, child, in[1], out[0], err[0], 0, 0, 1};
  return;
failed:;
  static const char message[] = "mindbg: the shared debugger cannot start a session (too many at once, or out of processes)\n";
  unsigned char status[4];
  put32(status, 125);
  send_frame(id, F_ERR, message, sizeof message - 1);
  send_frame(id, F_EXIT, status, 4);
}

static struct session *session_of(unsigned id) {
  for (int i = 0; i < MAX_SESSIONS; i++) if (sessions[i].used && sessions[i].id == id) return &sessions[i];
  return 0;
}

static void mux(char **envp) {
  static unsigned char input[2 * (8 + MAX_PAYLOAD)];
  static char buf[MAX_PAYLOAD];
  static struct { int fd; short events, revents; } fds[2 + 2 * MAX_SESSIONS];
  static struct session *owner[2 + 2 * MAX_SESSIONS];
  u64 all = ~0UL, caught = 1UL << (SIGCHLD - 1) | 1UL << (SIGTERM - 1) | 1UL << (SIGINT - 1) | 1UL << (SIGHUP - 1);
  sys4(NR_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  int sigfd = (int)sys4(NR_signalfd4, -1, &caught, 8, O_CLOEXEC_PIPE | 04000 /* SFD_NONBLOCK */);
  if (sigfd < 0) {
    say("mindbg: the shared debugger cannot wait for its sessions (signalfd)\n");
    die(125);
  }
  u64 have = 0;
  int reading = 1, ending = 0;
  for (;;) {
    int live = 0;
    for (int i = 0; i < MAX_SESSIONS; i++) {
      struct session *s = &sessions[i];
      if (!s->used) continue;
      if (s->reaped && s->out < 0 && s->err < 0) {
        unsigned char status[4];
        put32(status, (unsigned)s->status);
        send_frame(s->id, F_EXIT, status, 4);
        if (s->in >= 0) sys1(NR_close, s->in);
        s->used = 0;
        continue;
      }
      live++;
    }
    if (ending && !live) die(0);
    int n = 0;
    fds[n] = (typeof(fds[0])){sigfd, POLLIN, 0};
    owner[n++] = 0;
    if (reading) {
      fds[n] = (typeof(fds[0])){0, POLLIN, 0};
      owner[n++] = 0;
    }
    for (int i = 0; i < MAX_SESSIONS; i++) {
      struct session *s = &sessions[i];
      if (!s->used) continue;
      if (s->out >= 0) { fds[n] = (typeof(fds[0])){s->out, POLLIN, 0}; owner[n++] = s; }
      if (s->err >= 0) { fds[n] = (typeof(fds[0])){s->err, POLLIN, 0}; owner[n++] = s; }
    }
    if (sys6(NR_ppoll, (i64)fds, n, 0, 0, 8, 0) < 0) continue;
    for (int k = 0; k < n; k++) {
      if (!fds[k].revents) continue;
      int fd = fds[k].fd;
      struct session *s = owner[k];
      if (s) {
        i64 got = sys3(NR_read, fd, buf, sizeof buf);
        if (got == -EINTR || got == -EAGAIN) continue;
        if (got > 0) {
          send_frame(s->id, fd == s->out ? F_OUT : F_ERR, buf, (u64)got);
        } else {
          sys1(NR_close, fd);
          if (fd == s->out) s->out = -1;
          else s->err = -1;
        }
      } else if (fd == sigfd) {
        static char info[128];
        while (sys3(NR_read, sigfd, info, sizeof info) == (i64)sizeof info) {
          unsigned sig = *(unsigned *)info;
          if (sig == SIGCHLD) continue;
          if (!ending) {
            ending = 1;
            for (int i = 0; i < MAX_SESSIONS; i++) if (sessions[i].used && !sessions[i].reaped) sys2(NR_kill, sessions[i].pid, SIGTERM);
          }
          break;
        }
        int status, pid;
        while ((pid = (int)sys4(NR_wait4, -1, &status, WNOHANG, 0)) > 0) {
          for (int i = 0; i < MAX_SESSIONS; i++) {
            if (sessions[i].used && sessions[i].pid == pid) {
              sessions[i].reaped = 1;
              sessions[i].status = status_code(status);
            }
          }
        }
      } else {
        i64 got = sys3(NR_read, 0, input + have, sizeof input - have);
        if (got == -EINTR || got == -EAGAIN) continue;
        if (got <= 0) {
          /* mindbg is gone (or has let go): every session ends, as a sidecar does with its session. */
          reading = 0;
          if (!ending) {
            ending = 1;
            for (int i = 0; i < MAX_SESSIONS; i++) if (sessions[i].used && !sessions[i].reaped) sys2(NR_kill, sessions[i].pid, SIGTERM);
          }
          continue;
        }
        have += (u64)got;
        u64 at = 0;
        while (have - at >= 8) {
          unsigned id = get32(input + at), word = get32(input + at + 4), kind = word >> 24;
          u64 len = word & 0xffffff;
          if (len > MAX_PAYLOAD) {
            say("mindbg: the shared debugger got a frame it cannot read\n");
            die(125);
          }
          if (have - at < 8 + len) break;
          char *payload = (char *)input + at + 8;
          at += 8 + len;
          struct session *t = session_of(id);
          if (kind == F_OPEN && !t && !ending) open_session(id, payload, len, envp);
          else if (kind == F_IN && t && t->in >= 0) write_all(t->in, payload, len);
          else if (kind == F_EOF && t && t->in >= 0) { sys1(NR_close, t->in); t->in = -1; }
          else if (kind == F_SIGNAL && t && len == 1 && !t->reaped) sys2(NR_kill, t->pid, (unsigned char)payload[0]);
        }
        memcpy(input, input + at, have - at);
        have -= at;
      }
    }
  }
}

/*
 * `mindbg-init --copy-in file|pipe PPID`, run by mindbg on its own machine, not in a container: copies its stdin (a
 * regular file, or a pipe) to its stdout (the engine's attach socket, shared with mindbg, which keeps reading the
 * output from it) inside the kernel, by sendfile(2) or splice(2), then shuts the socket's sending side down: the
 * command's stdin ends. Node.js moves 200 MB of input with ~120 ms of CPU in 64-256 kB reads and writes; this, with a
 * few ms. Dies with mindbg (PR_SET_PDEATHSIG), so that a killed mindbg leaves no copy behind holding the socket.
 * Exits 0 once all of the input is written, or when the other end stops taking it (the command ended: EPIPE,
 * ECONNRESET); with the error number when reading fails; 255 when used wrongly or mindbg is already gone.
 */
enum { PR_SET_PDEATHSIG = 1, SHUT_WR = 1, POLLOUT = 4, EPIPE = 32, ECONNRESET = 104, EINVAL = 22, ENOSYS = 38,
       SPLICE_F_MOVE = 1, SPLICE_F_MORE = 4, COPY_CHUNK = 1 << 20 };

/* Waits until stdout takes more, or stdin has more (whichever made the last call say EAGAIN). */
static void wait_for_copy(void) {
  struct { int fd; short events, revents; } out = {1, POLLOUT, 0}, in = {0, POLLIN, 0};
  i64 now[2] = {0, 0};
  if (sys6(NR_ppoll, (i64)&out, 1, (i64)now, 0, 8, 0) == 1) sys6(NR_ppoll, (i64)&in, 1, 0, 0, 8, 0);
  else sys6(NR_ppoll, (i64)&out, 1, 0, 0, 8, 0);
}

static void copy_in(const char *how, const char *ppid) {
  u64 all = ~0UL;
  /* mindbg stops the copy with SIGKILL; nothing else (a Ctrl-C meant for the session, a SIGPIPE) should. */
  sys4(NR_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  sys2(NR_prctl, PR_SET_PDEATHSIG, SIGKILL);
  i64 parent = 0;
  for (const char *c = ppid; *c >= '0' && *c <= '9'; c++) parent = parent * 10 + (*c - '0');
  if (sys0(NR_getppid) != parent) die(255);
  int file = same(how, "file");
  if (!file && !same(how, "pipe")) die(255);
  /* sendfile or splice first; read and write where the kernel cannot (a file system without sendfile). */
  int plain = 0;
  static char buffer[65536];
  for (u64 moved = 0;;) {
    i64 n;
    if (plain) {
      n = sys3(NR_read, 0, buffer, sizeof buffer);
      for (i64 at = 0; n > 0 && at < n;) {
        i64 w = sys3(NR_write, 1, buffer + at, (u64)(n - at));
        if (w == -EAGAIN) wait_for_copy();
        else if (w == -EPIPE || w == -ECONNRESET) die(0);
        else if (w < 0 && w != -EINTR) die((int)-w);
        else if (w > 0) at += w;
      }
    } else {
      n = file ? sys4(NR_sendfile, 1, 0, 0, COPY_CHUNK) : sys6(NR_splice, 0, 0, 1, 0, COPY_CHUNK, SPLICE_F_MOVE | SPLICE_F_MORE);
    }
    if (n > 0) {
      moved += (u64)n;
      continue;
    }
    if (n == 0) break;
    if (n == -EINTR) continue;
    if (n == -EAGAIN) wait_for_copy();
    else if (n == -EPIPE || n == -ECONNRESET) die(0);
    else if ((n == -EINVAL || n == -ENOSYS) && !plain && moved == 0) plain = 1;
    else die((int)-n);
  }
  sys2(NR_shutdown, 1, SHUT_WR);
  die(0);
}

__attribute__((used)) void start(long *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  char **envp = argv + argc + 1;
  if (argc < 2) {
    say("usage: mindbg-init [--enter PID] COMMAND [ARG...] | --hold | --mux | --copy-in file|pipe PPID\n");
    die(2);
  }
  if (argc == 2 && same(argv[1], "--hold")) hold();
  if (argc == 2 && same(argv[1], "--mux")) mux(envp);
  if (argc == 4 && same(argv[1], "--copy-in")) copy_in(argv[2], argv[3]);
  u64 all = ~0UL, none = 0;
  sys4(NR_rt_sigprocmask, SIG_SETMASK, &all, 0, 8);
  if (argc >= 4 && same(argv[1], "--enter")) {
    enter(argv[2]);
    argv += 2;
  }
  static const char unlink_var[] = "MINDBG_INIT_UNLINK=", timeout_var[] = "MINDBG_TIMEOUT_MS=";
  const char *unlink_path = take_env(envp, unlink_var), *timeout_ms = take_env(envp, timeout_var);
  if (unlink_path) sys3(NR_unlinkat, AT_FDCWD, unlink_path, 0);
  u64 deadline_ms = 0;
  for (const char *c = timeout_ms; c && *c >= '0' && *c <= '9'; c++) deadline_ms = deadline_ms * 10 + (u64)(*c - '0');
  sys2(NR_prctl, PR_SET_CHILD_SUBREAPER, 1);
  int self = (int)sys0(NR_getpid);

  int child = (int)sys6(NR_clone, SIGCHLD, 0, 0, 0, 0, 0);
  if (child < 0) {
    say("mindbg: cannot start the command (fork failed)\n");
    die(125);
  }
  if (child == 0) {
    /* The command's own process group, in the foreground of the terminal if there is one (SIGTTOU is still
       blocked here, so a background group may take it): Ctrl-C reaches it, not this process. */
    int me = (int)sys0(NR_getpid);
    sys2(NR_setpgid, 0, 0);
    sys3(NR_ioctl, 0, TIOCSPGRP, &me);
    sys4(NR_rt_sigprocmask, SIG_SETMASK, &none, 0, 8);
    run(argv + 1, envp);
  }

  if (deadline_ms) {
    /* struct itimerval: interval {sec, usec}, value {sec, usec}; one shot. */
    i64 timer[4] = {0, 0, (i64)(deadline_ms / 1000), (i64)(deadline_ms % 1000) * 1000};
    sys3(NR_setitimer, 0, timer, 0);
  }
  static char info[128];
  for (;;) {
    int sig = (int)sys4(NR_rt_sigtimedwait, &all, info, 0, 8);
    if (sig == SIGCHLD) {
      int status, pid;
      while ((pid = (int)sys4(NR_wait4, -1, &status, WNOHANG, 0)) > 0) {
        if (pid == child) {
          end_descendants(self);
          die(status_code(status));
        }
      }
    } else if (sig == SIGALRM && deadline_ms) {
      sys2(NR_kill, -child, SIGKILL);
      end_descendants(self);
      say("mindbg: timed out\n");
      die(124);
    } else if (sig == SIGTERM) {
      end_descendants(self);
      die(128 + SIGTERM);
    } else if (sig > 0) {
      sys2(NR_kill, child, sig);
    }
  }
}
