#!/usr/bin/env bash
# Trains zoo models side by side on one lent GPU; run from the repository root there, with
# .device/cifar made by `python scripts/gpu_zoo.py pack .device/cifar` here and, where the GPU
# machine lacks them, .whl holding the platformdirs and pooch wheels (see the device notes).
#   bash scripts/gpu_zoo.sh                      # the shipped zoo: nine models, 470 s budget
#   MODELS="vit_cifar@seed1 ..." LENGTH=--replay bash scripts/gpu_zoo.sh   # seed variants
#   MODELS="vit_cifar_small vit_cifar_large vit_cifar_long" LENGTH=--replay \
#     bash scripts/gpu_zoo.sh     # the scale ladder (seelike.zoo.PENDING): vit_cifar's steps
#                                 # at half and double width, four times them for _long
# Results come back as zoo.tar.* pieces in $OUT (the device tool returns at most 8 files).
set -uo pipefail
MODELS=${MODELS:-"vit_cifar vit_cifar_gap resnet_cifar mixer_cifar vit_cifar_noskip1
vit_cifar_noskip7 vit_cifar_noskip10 vit_cifar_data10 vit_cifar_data30"}
LENGTH=${LENGTH:-"--time-budget 470"}
# A hung job still returns its logs before the device call's own limit.
DEADLINE=${DEADLINE:-570}
export PYTHONPATH=$PWD/lib${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    .whl/*.whl || exit 1
  export PYTHONPATH=$PYTHONPATH:/tmp/site
fi
python3 scripts/gpu_zoo.py unpack .device/cifar /tmp/cifar || exit 1
# MPS lets the small models' kernels run side by side instead of time-slicing the GPU.
if command -v nvidia-cuda-mps-control >/dev/null && nvidia-cuda-mps-control -d; then
  if ! timeout 30 python3 -c "import torch; print(torch.ones(2, device='cuda').sum().item())"; then
    echo quit | nvidia-cuda-mps-control; echo "MPS unusable; GPU time-slicing instead"
  else
    echo "MPS on"
  fi
fi
# shellcheck disable=SC2086
timeout "$DEADLINE" python3 -m seelike.train --parallel $MODELS $LENGTH --transport /tmp/cifar \
  --out /tmp/zoo ${EXTRA:-}
rc=$?
tail -n 2 /tmp/zoo/*.log
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.used --format=csv
(cd /tmp/zoo && tar cf - ./*.safetensors ./*.json ./*.log) | split -b 15M - "$OUT/zoo.tar."
exit $rc
