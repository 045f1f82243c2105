"""Taps: single tensors of one forward pass, recorded by name.

A :class:`Tap` names one tensor: a module's first input, its output, or (for a timm
``Attention``) its softmax probabilities. :func:`run_taps` runs the model once and returns
every tap's tensor, stopping the pass as soon as the last one is recorded, and can hand each
tensor to a consumer as it comes so that a pass that reduces layers one by one never holds
them all. The shared forward passes of :mod:`seelike.passes` are built on it; for
interactive capture of many layers see :mod:`seelike.hooks`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from timm.layers import Attention
from torch import nn

from seelike.hooks import eval_mode
from seelike.selectors import check_model, submodule

__all__ = ["Tap", "Where", "run_taps"]


Where = Literal["input", "output", "attention"]
_WHERE = ("input", "output", "attention")


@dataclass(frozen=True)
class Tap:
    """One tensor of a forward pass: the first input or the output of module ``module``.

    ``where="attention"``: ``module`` is a timm ``Attention`` and the tensor is its softmax
    probabilities ``(b, heads, tokens, tokens)``, recorded with fused attention switched off
    for the pass (as ``capture(..., attention=True)`` does; paper Figs 3-5).
    ``transform`` is applied to the recorded tensor (the CIFAR ResNet-56's shortcut is a
    method, not a module, so its output is the unit input passed through that method).
    """

    module: str
    where: Where = "output"
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        # A typo in where would otherwise record the module's output without a word.
        if not isinstance(self.module, str):
            raise TypeError(f"Tap module must be a module name (a str), got {self.module!r}")
        if self.where not in _WHERE:
            raise ValueError(f"Tap where must be one of {_WHERE}, not {self.where!r}")
        if self.transform is not None and not callable(self.transform):
            raise TypeError(f"Tap transform must be callable or None, got {self.transform!r}")


class _Stop(Exception):
    """Raised from a hook once every tap is recorded: the rest of the forward is wasted work."""


def run_taps(
    model: nn.Module, x: torch.Tensor, taps: Sequence[Tap], *, grad: bool = False,
    stop_early: bool = True, consume: Callable[[Tap, torch.Tensor], bool] | None = None,
) -> dict[Tap, torch.Tensor]:
    """Run ``model(x)`` in eval mode and return the tensor of every tap.

    With ``grad=True`` the tensors stay in the autograd graph (``x`` must require grad for
    d tap / d x); otherwise the pass runs under ``no_grad``. With ``stop_early`` the pass is
    abandoned once every tap is recorded, so taps in the first blocks cost only those blocks.
    Recorded tensors are clones: timm ResNets add the shortcut in place (``x += shortcut``)
    into the very tensor the branch's last module returned.

    ``consume(tap, tensor)`` streams: it is called as each tap is recorded, with the tensor
    as it is at that moment (no copy; use it before returning, or copy it), and when it
    returns True the tap is used up and left out of the result. So a pass that reduces
    each layer as it comes (a Gram matrix, a statistic) never holds every layer at once.
    """
    check_model(model)
    if consume is not None and not callable(consume):
        raise TypeError(f"consume must be a function of (tap, tensor) returning a bool, got "
                        f"{type(consume).__name__}; pass None to keep every tap")
    if isinstance(taps, Tap) or not isinstance(taps, Iterable):
        raise TypeError(f"taps must be a list of Tap, got {taps!r}; wrap one as [tap]")
    taps = list(dict.fromkeys(taps))
    if not taps:
        raise ValueError("no taps given")
    wrong = [t for t in taps if not isinstance(t, Tap)]
    if wrong:
        raise TypeError(f"taps must be Tap objects, got {wrong[0]!r}; e.g. Tap({wrong[0]!r})")
    found: dict[Tap, torch.Tensor] = {}
    used: set[Tap] = set()

    def record(tap: Tap, value: Any) -> None:
        tensor = value[0] if isinstance(value, tuple | list) else value
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{tap.module!r} {tap.where} is {type(tensor).__name__}, not a tensor")
        if tap in found or tap in used:
            raise RuntimeError(f"module {tap.module!r} ran twice in one forward pass")
        tensor = tensor if grad else tensor.detach()
        fresh = False
        if tap.transform is not None:
            # A transform that reduces (attention to distances) never copies the whole tensor;
            # one that returns a view of it gets its own copy, as an untransformed tap does.
            out = tap.transform(tensor)
            fresh = out.untyped_storage().data_ptr() != tensor.untyped_storage().data_ptr()
            tensor = out
        if consume is not None and consume(tap, tensor):
            used.add(tap)
        else:
            found[tap] = tensor if fresh else tensor.clone()
        if stop_early and len(found) + len(used) == len(taps):
            raise _Stop

    with contextlib.ExitStack() as stack:
        stack.enter_context(eval_mode(model))
        stack.enter_context(torch.enable_grad() if grad else torch.no_grad())
        for tap in taps:
            module = submodule(model, tap.module, argument="tap module")
            if tap.where == "attention":
                if not isinstance(module, Attention):
                    raise TypeError(f"attention tap on {tap.module!r}, a "
                                    f"{type(module).__name__}, not a timm Attention")
                stack.callback(setattr, module, "fused_attn", module.fused_attn)
                module.fused_attn = False
                # The probabilities are the input of attn_drop, untouched by dropout.
                handle = module.attn_drop.register_forward_pre_hook(
                    lambda _m, args, tap=tap: record(tap, args))
            elif tap.where == "input":
                handle = module.register_forward_pre_hook(
                    lambda _m, args, tap=tap: record(tap, args))
            else:
                handle = module.register_forward_hook(
                    lambda _m, _args, out, tap=tap: record(tap, out))
            stack.callback(handle.remove)
        with contextlib.suppress(_Stop):
            model(x)
    missing = [t for t in taps if t not in found and t not in used]
    if missing:
        raise RuntimeError(f"taps never reached in the forward pass: {missing}")
    return found
