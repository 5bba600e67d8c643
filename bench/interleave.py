#!/usr/bin/env python3
"""Runs commands one after the other, round after round (the order reversed every other round), so that a load that
comes and goes on a shared VM weighs on each alike, which hyperfine's command-after-command runs do not. Wall time and
the CPU of each command's process (and the children it waited for, from wait4), medians; the first is the baseline.

Usage: bench/interleave.py ROUNDS NAME=COMMAND...   (PREP='shell command' runs before every command, not timed)
e.g.   bench/interleave.py 40 "docker=docker run --rm busybox true" "mindbg=./bin/run.js attach web -- true"
"""
import os, shlex, statistics, subprocess, sys, time

rounds = int(sys.argv[1])
commands = [arg.split('=', 1) for arg in sys.argv[2:]]
prep = os.environ.get('PREP')
results = {name: ([], []) for name, _ in commands}
devnull = os.open(os.devnull, os.O_RDWR)
for i in range(rounds + 1):  # round 0 warms up
    for name, command in commands if i % 2 == 0 else commands[::-1]:
        if prep:
            subprocess.run(prep, shell=True, check=True)
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            argv = shlex.split(command)
            os.execvp(argv[0], argv)
        _, status, usage = os.wait4(pid, 0)
        wall = (time.perf_counter() - start) * 1000
        if os.waitstatus_to_exitcode(status) != 0:
            print(f'{name}: exit {os.waitstatus_to_exitcode(status)} in round {i}', file=sys.stderr)
        if i > 0:
            results[name][0].append(wall)
            results[name][1].append((usage.ru_utime + usage.ru_stime) * 1000)
baseline = None
for name, (wall, cpu) in results.items():
    median = statistics.median(wall)
    baseline = baseline or median
    print(f'{name:12s} wall median {median:7.1f} ms  mean {statistics.mean(wall):7.1f}  CPU median {statistics.median(cpu):6.1f} ms  ratio {median / baseline:.3f}')
