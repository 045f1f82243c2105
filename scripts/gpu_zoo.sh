#!/usr/bin/env bash
# Trains the whole cifar zoo at once on one lent GPU; run from the repository root there,
# with .device/cifar made by `python scripts/gpu_zoo.py pack .device/cifar` here.
# Results come back as zoo.tar.* pieces in $OUT (the device tool returns at most 8 files).
set -uo pipefail
BUDGET=${BUDGET:-470}
MODELS="vit_cifar vit_cifar_gap resnet_cifar mixer_cifar vit_cifar_noskip1 vit_cifar_noskip7
vit_cifar_noskip10 vit_cifar_data10 vit_cifar_data30"
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
python3 -m seelike.train --parallel $MODELS --time-budget "$BUDGET" --transport /tmp/cifar \
  --out /tmp/zoo
rc=$?
tail -n 2 /tmp/zoo/*.log
nvidia-smi --query-gpu=name,memory.used --format=csv
(cd /tmp/zoo && tar cf - ./*.safetensors ./*.json ./*.log) | split -b 15M - "$OUT/zoo.tar."
exit $rc
