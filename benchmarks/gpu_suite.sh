#!/usr/bin/env bash
# One-command GPU evidence (issue 14), under 8 minutes of wall time on an H100/H200:
#   1. the CUDA tests (pytest -m cuda) with LEARNEDAUG_REQUIRE_CUDA=1: they fail, never skip, without a GPU;
#   2. bench_sampling on CUDA, fp32/bf16/fp16: eager, --cuda-graphs and --compile (5 M samples/s, FLOP floor);
#   3. bench_transforms and bench_fid on CUDA;
#   4. a short CIFAR-10 CDCGAN training run through `learnedaug train` (history, loss curve, samples kept).
# Each step has its own timeout, capped by what is left of the total budget; a failed step is recorded and the
# suite goes on; the exit status is 1 if any step failed or ran out of time, 2 for bad arguments / no CUDA.
# Output: OUT/device.txt (device name, torch, commit), OUT/summary.md (one row per step), OUT/<step>.txt (each
# step's tables and log), OUT/training/ (history.json, loss.png, last sample grid).
# --smoke runs the same steps on CPU at tiny sizes (seconds each; tests/test_gpu_suite.py runs it); the CUDA tests
# then skip, and the two GPU-only sampling variants (--cuda-graphs, --compile) are listed as skipped.
#
#   bash benchmarks/gpu_suite.sh [--out DIR] [--data-root DIR] [--budget SECONDS] [--smoke]
#
# DIR defaults to benchmarks/results/gpu_<UTC date>_<device-name-slug>. --data-root holds cifar10/train.npz or
# cifar10/train-0.npz, ... (default $LEARNEDAUG_DATA, else ../shared/data). Python: $PYTHON, else .venv/bin/python,
# else python3. bench_fid needs pytorch-fid and the Kornia column needs kornia, where the machine lacks them.
# A machine without the shared data trains on whatever cifar10/ --data-root holds: a subset such as the first
# 10,000 training images (about 28 MB as train.npz) is enough for the 10-epoch run on its 10 % subset.
set -u -o pipefail

usage() { sed -n '2,21s/^# \{0,1\}//p' "$0"; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMOKE=0
OUT_DIR=""
DATA_ROOT=${LEARNEDAUG_DATA:-$REPO/../shared/data}
BUDGET=470
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1; shift ;;
        --out) OUT_DIR=${2:?--out needs a directory}; shift 2 ;;
        --data-root) DATA_ROOT=${2:?--data-root needs a directory}; shift 2 ;;
        --budget) BUDGET=${2:?--budget needs seconds}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_suite.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$BUDGET" in
    ''|*[!0-9]*) echo "gpu_suite.sh: --budget must be a whole number of seconds, got '$BUDGET'" >&2; exit 2 ;;
esac

cd "$REPO" || exit 2
if [ -n "${PYTHON:-}" ]; then PY=$PYTHON
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=python3
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [ "$SMOKE" = 1 ]; then
    DEVICE=cpu
    NAME=cpu
else
    DEVICE=cuda
    NAME=$("$PY" -c "import torch; print(torch.cuda.get_device_name() if torch.cuda.is_available() else '')") || NAME=""
    if [ -z "$NAME" ]; then
        echo "gpu_suite.sh: torch sees no CUDA device (python: $PY); use --smoke for the CPU check" >&2
        exit 2
    fi
fi
SLUG=$(printf '%s' "$NAME" | tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//')
OUT_DIR=${OUT_DIR:-benchmarks/results/gpu_$(date -u +%Y-%m-%d)_$SLUG}
mkdir -p "$OUT_DIR" || exit 2

{
    echo "device: $NAME"
    echo "mode: $([ "$SMOKE" = 1 ] && echo "smoke (CPU, tiny sizes)" || echo gpu)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    if commit=$(git rev-parse --short HEAD 2>/dev/null); then
        echo "commit: $commit$(git diff --quiet HEAD || echo ' (working tree differs)')"
    else
        echo "commit: unknown (no git checkout)"
    fi
    "$PY" -c "import platform, torch; print(f'python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}')"
    echo "cpus: $(nproc)"
    if [ "$SMOKE" = 0 ] && command -v nvidia-smi >/dev/null; then
        echo "nvidia-smi: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader)"
    fi
} >"$OUT_DIR/device.txt"

SUMMARY=$OUT_DIR/summary.md
printf '# gpu_suite on %s\n\n| step | status | seconds | output |\n|---|---|---:|---|\n' "$NAME" >"$SUMMARY"
FAILED=0

# step NAME SECONDS COMMAND...: run COMMAND under a timeout (capped by the budget left), output to NAME.txt.
step() {
    local name=$1 want=$2 start status rc
    shift 2
    local left=$((BUDGET - SECONDS - 5))
    local limit=$((want < left ? want : left))
    start=$SECONDS
    if [ "$limit" -lt 5 ]; then
        status="not run: the ${BUDGET} s budget is spent"
        FAILED=$((FAILED + 1))
    else
        echo "== $name (timeout ${limit} s): $*"
        timeout -k 5 "$limit" "$@" >"$OUT_DIR/$name.txt" 2>&1
        rc=$?
        if [ "$rc" = 0 ]; then status=ok
        elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then status="timed out after ${limit} s"
        else status="failed (exit $rc)"
        fi
        [ "$rc" = 0 ] || FAILED=$((FAILED + 1))
    fi
    echo "   $status"
    echo "| $name | $status | $((SECONDS - start)) | $name.txt |" >>"$SUMMARY"
}

skipped() {
    echo "| $1 | skipped: $2 | 0 | |" >>"$SUMMARY"
}

# The files holding @pytest.mark.cuda tests: collecting only them keeps optional test dependencies out.
mapfile -t CUDA_TESTS < <(grep -rlE --include='test_*.py' '^@pytest\.mark\.cuda' tests | sort)
TRAIN_DIR=$(mktemp -d)
trap 'rm -rf "$TRAIN_DIR"' EXIT

if [ "$SMOKE" = 1 ]; then
    step cuda_tests 60 env -u LEARNEDAUG_REQUIRE_CUDA "$PY" -m pytest -q -p no:cacheprovider -p no:xdist -m cuda -rs "${CUDA_TESTS[@]}"
    step sampling 60 "$PY" benchmarks/bench_sampling.py --device cpu --threads 1 --families cdcgan \
        --batch-sizes 4 --dtypes fp32 --loop-sizes 20 --repeats 1 --skip pool
    skipped sampling_graphs "GPU only (--cuda-graphs)"
    skipped sampling_compile "GPU only (--compile)"
    step transforms 60 "$PY" benchmarks/bench_transforms.py --device cpu --batch-size 4 --repeats 1 --loop-repeats 1
    step fid 60 "$PY" benchmarks/bench_fid.py --device cpu --threads 1 --batch-size 1 --repeats 1 --dim 32 --n 100
    step training 60 "$PY" -m learnedaug.cli train cdcgan --data cifar10 --data-root "$DATA_ROOT" --per-class 1 \
        --epochs 1 --batch-size 10 --set fc_dim=16 --set base_channels=4 --device cpu --sample-every 1 \
        --no-progress --out "$TRAIN_DIR"
else
    step cuda_tests 40 env LEARNEDAUG_REQUIRE_CUDA=1 "$PY" -m pytest -q -p no:cacheprovider -p no:xdist -m cuda -rs "${CUDA_TESTS[@]}"
    step sampling 50 "$PY" benchmarks/bench_sampling.py --device cuda
    step sampling_graphs 45 "$PY" benchmarks/bench_sampling.py --device cuda --cuda-graphs --skip classvae pool
    # one batch size: each (family, dtype) compiles once instead of once static and once dynamic
    step sampling_compile 130 "$PY" benchmarks/bench_sampling.py --device cuda --compile --batch-sizes 65536 \
        --skip classvae pool
    step transforms 60 "$PY" benchmarks/bench_transforms.py --device cuda --repeats 11 --loop-repeats 2
    step fid 60 "$PY" benchmarks/bench_fid.py --device cuda --batch-size 64 --repeats 3
    step training 75 "$PY" -m learnedaug.cli train cdcgan --data cifar10 --data-root "$DATA_ROOT" --subset 10% \
        --epochs 10 --batch-size 64 --device cuda --sample-every 5 --no-progress --out "$TRAIN_DIR"
fi

mkdir -p "$OUT_DIR/training"
for f in history.json loss.png; do
    [ -f "$TRAIN_DIR/$f" ] && cp "$TRAIN_DIR/$f" "$OUT_DIR/training/"
done
last_grid=$(ls "$TRAIN_DIR"/samples/*.png 2>/dev/null | sort | tail -n 1)
[ -n "$last_grid" ] && cp "$last_grid" "$OUT_DIR/training/"

printf '\n%s step(s) failed; %s s in all (budget %s s).\n' "$FAILED" "$SECONDS" "$BUDGET" >>"$SUMMARY"
echo "gpu_suite: $FAILED step(s) failed, ${SECONDS} s; results in $OUT_DIR"
[ "$FAILED" = 0 ]
