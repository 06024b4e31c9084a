#!/bin/bash
# Who kept the bench's loop off its core: every context switch on the machine (perf's
# sched:sched_switch tracepoint, on CLOCK_MONOTONIC) over an interleaved bench, then
# bench/sched-gaps.ts places the main thread's runnable-but-waiting spells in each client's load
# windows and names who ran meanwhile (the process's own threads, or others).
#
#   bench/sched-window.sh OUT [rates] [duration] [slices]     # writes OUT.sched, OUT.windows, OUT.txt (the bench), OUT.md
#   node --import tsx bench/sched-gaps.ts OUT.sched OUT.windows [min-ms]
#
# Needs perf (linux-perf) and root or kernel.perf_event_paranoid ≤ -1 (a system-wide tracepoint).
# Extra bench flags go in BENCH_ARGS (BENCH_ARGS=--leave-threads: the A/B in BENCHMARKS.md §1).
set -euo pipefail
out=$(realpath -m "${1:?the output prefix (OUT.sched, OUT.windows, OUT.txt, OUT.md)}")
rates=${2:-150,175,200}
duration=${3:-30}
slices=${4:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/ib-sched.XXXXXX)
trap 'rm -rf "$work"' EXIT
rm -f "$out.windows"
# shellcheck disable=SC2086
(cd "$repo" && perf record -q -a -e sched:sched_switch -k CLOCK_MONOTONIC -o "$work/perf.data" -- \
  node --single-threaded-gc --import tsx bench/runner-accuracy.ts --rates "$rates" --duration "$duration" --slices "$slices" --windows "$out.windows" ${BENCH_ARGS:-}) | tee "$out.txt"
perf script -i "$work/perf.data" -F comm,pid,tid,cpu,time,event,trace >"$out.sched" 2>/dev/null
(cd "$repo" && node --import tsx bench/sched-gaps.ts "$out.sched" "$out.windows") | tee "$out.md"
