#!/bin/bash
# Where each client's CPU goes, by Linux perf: samples of the bench's main thread (cpu-clock, 1,999 Hz)
# over a whole interleaved bench (floor, floor on undici and runner taking turns), each sample placed
# in the client's load window it fell in (the bench's --windows file, on perf's CLOCK_MONOTONIC), so
# the clients are compared within one run and the host's drift lands on all of them.
#
#   bench/perf-window.sh OUT [rate] [duration] [slices]
#   node --import tsx bench/perf-groups.ts OUT.script OUT.windows     # the table again, from the kept samples
#
# JavaScript frames are named from V8's jitdump (--perf-prof, then `perf inject --jit`), not from
# --perf-basic-prof's map: the map keeps every name an address ever had, and perf picks one of them,
# so when V8 reuses code space the samples land on the wrong function (here ~1 µs per event moved
# between Node's timers and undici). Writes OUT.script (the samples, text), OUT.windows and OUT.md
# (the table). Needs perf (linux-perf) and kernel.perf_event_paranoid ≤ 2 for the own process's samples.
set -euo pipefail
out=$(realpath -m "${1:?the output prefix (OUT.script, OUT.windows, OUT.md)}")
rate=${2:-100}
duration=${3:-60}
slices=${4:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
tsx=$(cd "$repo" && node --input-type=module -e "console.log(import.meta.resolve('tsx'))")
# V8 writes its jitdump (and perf inject its per-function objects) into the working directory.
work=$(mktemp -d /tmp/ib-perf.XXXXXX)
trap 'rm -rf "$work"' EXIT
rm -f "$out.windows"
(cd "$work" && perf record -e cpu-clock -F 1999 -k CLOCK_MONOTONIC --no-inherit -o "$work/perf.data" -- \
  node --single-threaded-gc --perf-prof --import "$tsx" "$repo/bench/runner-accuracy.ts" --undici-floor \
  --rates "$rate" --duration "$duration" --slices "$slices" --windows "$out.windows")
(cd "$work" && perf inject --jit -i perf.data -o perf.jit.data && perf script -i perf.jit.data -F time,ip,sym,dso >"$out.script" 2>/dev/null)
(cd "$repo" && node --import tsx bench/perf-groups.ts "$out.script" "$out.windows") | tee "$out.md"
