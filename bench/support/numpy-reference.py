"""The reference the inference-perf aggregation is compared with: what a Python user would write.

json.load of the whole per-request file, then numpy percentiles of TTFT and ITL (from each
successful request's chunk_times). Prints one JSON line: seconds, peak RSS (MB), records.
Usage: python3 bench/support/numpy-reference.py <per_request_lifecycle_metrics.json>
"""
import json
import resource
import sys
import time

import numpy as np

t0 = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    records = json.load(f)
ttft, itl = [], []
for r in records:
    info = r.get("info") or {}
    times = (info.get("response_metrics") or {}).get("chunk_times") or info.get("output_token_times") or []
    if not times:
        continue
    ttft.append(times[0] - r["start_time"])
    itl.extend(np.diff(times).tolist())
p = {name: np.percentile(np.asarray(v), [50, 90, 99]).tolist() for name, v in (("ttft", ttft), ("itl", itl))}
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "records": len(records), "percentiles_s": p}))
