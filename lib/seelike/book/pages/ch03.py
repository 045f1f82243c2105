"""Chapter 3's page: the zoo as a table (what each model is, how it was trained, its test
accuracy and its accuracy re-measured on the probe images), the spread over training
seeds, and a few predictions of the ViT and the ResNet.

Everything about a trained model comes from its manifest (:func:`seelike.weights.
read_manifest`); the re-measured accuracy from the book's one pass over the CKA images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seelike import models, weights, zoo
from seelike.book import plan, results
from seelike.book.images import probe_set
from seelike.book.presets import Preset, zoo_models
from seelike.datasets import CIFAR10_CLASSES

__all__ = ["ACCURACY_KEYS", "accuracy_numbers", "predictions", "seed_table", "zoo_table"]

#: The glue keys of :func:`accuracy_numbers`, for presets without the zoo.
ACCURACY_KEYS = ("n_eval", "acc_vit", "acc_gap", "acc_resnet", "acc_mixer", "acc_data10",
                 "acc_data30", "acc_noskip", "acc_aka", "minutes", "gap_points",
                 "drop_noskip1", "drop_noskip7", "drop_noskip10")


def zoo_table(p: Preset) -> pd.DataFrame:
    """One row per zoo model of ``p``: what it is, its size and training, its test accuracy
    and its accuracy on the preset's CKA probe images."""
    measured = results.keyed(p, plan.zoo_accuracy(p), key=lambda a: a.model)
    rows = []
    for name in zoo_models(p):
        spec = zoo.spec_of(name)
        entry = dict(model=name, what=spec.summary,
                     parameters=sum(q.numel() for q in models.load(name).parameters()))
        if spec.recipe:
            m = weights.read_manifest(name)
            entry.update(data=f"{m['data_fraction']:.0%}", steps=m["steps"], epochs=m["epochs"],
                         device=m["device"], minutes=m["wall_seconds"] / 60,
                         test_acc=m["test_accuracy"])
        else:
            entry.update(data="100%", device="(external)")
        entry["acc_here"] = float(measured[name]["accuracy"])
        rows.append(entry)
    return pd.DataFrame(rows).astype({"steps": "Int64"})


def accuracy_numbers(table: pd.DataFrame, examples: int) -> dict[str, str | int]:
    """What the text quotes of the zoo's accuracies (:func:`zoo_table`; the cifar zoo's
    model names)."""
    acc = dict(zip(table.model, table.test_acc, strict=True))
    noskip = ("vit_cifar_noskip1", "vit_cifar_noskip7", "vit_cifar_noskip10")
    return {"n_eval": examples, "acc_vit": f"{acc['vit_cifar']:.1f} %",
            "acc_gap": f"{acc['vit_cifar_gap']:.1f} %",
            "acc_resnet": f"{acc['resnet_cifar']:.1f} %",
            "acc_mixer": f"{acc['mixer_cifar']:.1f} %",
            "acc_data10": f"{acc['vit_cifar_data10']:.1f} %",
            "acc_data30": f"{acc['vit_cifar_data30']:.1f} %",
            "acc_noskip": ", ".join(f"{acc[n]:.1f} %" for n in noskip),
            "acc_aka": f"{table.set_index('model').acc_here['resnet56_akamaster']:.1f} %",
            "minutes": f"{table.minutes.max():.1f}",
            "gap_points": f"{acc['resnet_cifar'] - acc['vit_cifar']:.1f}",
            **{f"drop_noskip{k}": f"{acc[f'vit_cifar_noskip{k}'] - acc['vit_cifar']:+.1f}"
               for k in (1, 7, 10)}}


def seed_table() -> pd.DataFrame:
    """Each model trained with several seeds: each seed's test accuracy, mean and range."""
    rows = []
    for name, seeds in zoo.SEEDS.items():
        accs = [weights.read_manifest(n)["test_accuracy"] for n in zoo.seed_variants(name)]
        rows.append({"model": name, **{f"seed {k}": a for k, a in zip(seeds, accs, strict=True)},
                     "mean": np.mean(accs), "range (points)": max(accs) - min(accs)})
    return pd.DataFrame(rows)


def predictions(p: Preset) -> tuple[np.ndarray, list[str]]:
    """Eight probe images spread over the CKA probe set (the figure's two rows of four),
    and for each its class and the ViT's and the ResNet's predictions."""
    probe = probe_set(p, "cka")
    vit, resnet = models.load(p.vit), models.load(p.resnet)
    picks = np.linspace(0, len(probe) - 1, 8).astype(int)
    x = torch.stack([probe.tensor(i, i + 1)[0] for i in picks])
    with torch.no_grad():
        pv, pr = vit(x).argmax(1), resnet(x).argmax(1)
    titles = [f"{CIFAR10_CLASSES[probe.labels[i]]}\nViT: {CIFAR10_CLASSES[a]}\n"
              f"ResNet: {CIFAR10_CLASSES[b]}" for i, a, b in zip(picks, pv, pr, strict=True)]
    return x.permute(0, 2, 3, 1).numpy(), titles
