#!/bin/sh
# The NVIDIA checks in one go, on a machine with an NVIDIA GPU and its driver: what the NVML
# reader sees, `hostpulse snapshot --json`, the GPU tests and the NVML read cost. From the
# repository root:
#
#     sh scripts/gpu-check.sh [OUTPUT_DIR]        (default: gpu-check/)
#
# Needs Python >= 3.11 with psutil, PyYAML, pytest and hypothesis; installs the `nvidia` extra
# (nvidia-ml-py) only when pynvml is missing. The snapshot, the collector tests and the
# benchmark need none of the web layer (Flask, gevent, …), so this runs from src/ without an
# install and without a network (a GPU machine often has none). Exit status: the tests'.
set -u
OUT=${1:-gpu-check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD/tests${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

{ nvidia-smi; nvidia-smi --query-compute-apps=pid,used_memory --format=csv; } \
    > "$OUT/nvidia-smi.txt" 2>&1 || echo "nvidia-smi failed: see $OUT/nvidia-smi.txt"
if ! $PY -c 'import pynvml' 2>/dev/null; then
    $PY -m pip install -q 'nvidia-ml-py>=12' || echo "could not install nvidia-ml-py"
fi
$PY -c 'import pynvml, sys; print("python", sys.version.split()[0], "| pynvml", pynvml.__file__)' \
    | tee "$OUT/versions.txt"

echo "== hostpulse snapshot --json (GPU part)"
$PY -m hostpulse snapshot --json --interval 1 > "$OUT/snapshot.json" 2> "$OUT/snapshot.err"
$PY - "$OUT/snapshot.json" <<'PYEOF' | tee "$OUT/snapshot-gpus.txt"
import json, sys
doc = json.load(open(sys.argv[1]))
print(json.dumps(doc["facts"].get("gpus"), indent=2))
for key, value in sorted(doc["sample"]["values"].items()):
    if key.startswith(("gpu.", "battery.")):
        print(f"{key} = {value}")
PYEOF

echo "== GPU tests"
# --noconftest: tests/conftest.py brings in the browser and socket helpers, not needed here.
$PY -m pytest --noconftest -q -rA -s -p no:cacheprovider \
    tests/unit/test_gpu_real.py tests/unit/test_gpu.py > "$OUT/pytest.txt" 2>&1
status=$?
tail -30 "$OUT/pytest.txt"

echo "== cost of a read (CPU time)"
$PY benchmarks/collect.py --gpu-only --ticks 300 2>&1 | tee "$OUT/bench.txt"
echo "gpu-check: tests exit $status; output in $OUT/"
exit $status
