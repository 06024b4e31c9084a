#!/bin/bash
# Where one client's CPU goes during its load, by Linux perf: samples of the bench's main thread
# (cpu-clock, 1,999 Hz) over that client's load windows only, JIT frames named by --perf-basic-prof.
#
#   bench/perf-window.sh <floor|undici|runner> OUT.data [rate] [duration]
#   node --import tsx bench/perf-groups.ts A.data B.data EVENTS     # the two side by side, µs per event by kind of work
#
# Needs perf (linux-perf) and kernel.perf_event_paranoid ≤ 2 for the own process's samples.
set -euo pipefail
client=${1:?floor, undici or runner}
out=${2:?the perf.data file to write}
rate=${3:-100}
duration=${4:-30}
cd "$(dirname "$0")/.."
fifo=$(mktemp -u /tmp/ib-perf-ctl.XXXXXX)
mkfifo "$fifo"
trap 'rm -f "$fifo"' EXIT
# Held open read-write so neither perf nor the bench blocks opening it.
exec 9<>"$fifo"
perf record -e cpu-clock -F 1999 -g --no-inherit -D -1 --control "fifo:$fifo" -o "$out" -- \
  node --single-threaded-gc --perf-basic-prof --import tsx bench/runner-accuracy.ts --only "$client" --rates "$rate" --duration "$duration" --slices 1 --perf-fifo "$fifo"
# The JIT's symbol maps (/tmp/perf-PID.map) are read now and removed: the symbol table goes beside OUT.
perf report -i "$out" --no-children -g none --sort sym -n --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' >"$out.syms"
for map in /tmp/perf-*.map; do [ -e "$map" ] && [ "$map" -nt "$fifo" ] 2>/dev/null && rm -f "$map"; done
echo "$out.syms"
