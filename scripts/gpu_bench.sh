#!/usr/bin/env bash
# The GPU page's measurements on one lent GPU, in one call; run from the repository root
# there, with .whl holding the platformdirs and pooch wheels where the machine lacks them.
# Needs no data: every image is random and made on the GPU, every model random-init.
#   bash scripts/gpu_bench.sh
# In $OUT: results_cuda.{md,json} (bench_cka.py), results_paper_pipeline_cuda.json and
# results_paper_cuda.{json,md} (bench_paper.py), and bench.log; copy them to benchmarks/.
set -uo pipefail
# Each step stops in time for the next and for the call's own limit (600 s).
CKA_DEADLINE=${CKA_DEADLINE:-90}
PIPELINE_DEADLINE=${PIPELINE_DEADLINE:-120}
PAPER_DEADLINE=${PAPER_DEADLINE:-360}
export PYTHONPATH=$PWD/lib${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl || exit 1
  export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
{
  nvidia-smi --query-gpu=name,memory.total --format=csv
  timeout "$CKA_DEADLINE" python3 benchmarks/bench_cka.py --device cuda --repeat 3 \
    --out "$OUT/results_cuda.md"
  echo "bench_cka rc=$?"
  timeout "$PIPELINE_DEADLINE" python3 benchmarks/bench_paper_pipeline.py --device cuda \
    --repeat 2 --out "$OUT/results_paper_pipeline_cuda.json"
  echo "bench_paper_pipeline rc=$?"
  timeout "$PAPER_DEADLINE" python3 benchmarks/bench_paper.py --device cuda \
    --out "$OUT/results_paper_cuda.json"
  echo "bench_paper rc=$?"
} 2>&1 | tee "$OUT/bench.log"
