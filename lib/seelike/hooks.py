"""Forward hooks: capture what named layers of any ``nn.Module`` compute.

:class:`Capture` (:func:`capture`), the interactive tool for any model: :func:`list_layers`
names its layers, ``attention=True`` records the softmax probabilities of timm ViT blocks and
``grad=True`` keeps outputs in the autograd graph. Layers are chosen with the selectors of
:mod:`seelike.selectors` and tokens with :mod:`seelike.tokens`. The shared forward passes
record single tensors with :mod:`seelike.taps`, built on the helpers here.

Example::

    with capture(vit, r"re:blocks\\.\\d+", tokens="cls", attention=True) as cap:
        for images in loader:
            vit(images)
            accumulator.update(cap.outputs)     # {"blocks.0": (b, dim), ...}
            distances.append(cap.attention)     # {"blocks.0": (b, heads, tokens, tokens), ...}
            cap.clear()
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal

import pandas as pd
import torch
from timm.layers import Attention, HybridEmbed, PatchEmbed
from torch import nn

from seelike.selectors import LIST_HINT, Selectors, check_model, named_modules, resolve_layers
from seelike.tokens import TOKEN_MODES, TokenMode, select_tokens, token_layout

Repeated = Literal["error", "list"]

__all__ = ["Capture", "capture", "eval_mode", "list_layers"]

_REPEATED_MODES = ("error", "list")


def _extract(output: Any, key: str | None = None) -> torch.Tensor | None:
    """The tensor that stands for a module's output: itself, a sequence's first element, or a
    mapping's ``key`` entry (its first value when ``key`` is None); None if there is none."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        if key is None:
            return _extract(next(iter(output.values()), None))
        if key not in output:
            raise KeyError(f"output has no key {key!r}; its keys are {list(output)}")
        return _extract(output[key])
    if isinstance(output, list | tuple) and output:
        return _extract(output[0], key)
    return None


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode for the block's duration; every submodule's own train/eval flag restored."""
    # model.train(mode) would flatten a deliberate mix (e.g. frozen BatchNorm in a training
    # model), so every submodule gets its own flag back.
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def list_layers(model: nn.Module, sample_input: torch.Tensor) -> pd.DataFrame:
    """One row per named module whose forward returned a tensor in one pass on ``sample_input``.

    How to discover valid layer names. Columns: ``name``, ``type`` (class name),
    ``output_shape`` (of the first call, or of the tensor that :class:`Capture` would keep
    for tuple and dict outputs) and ``calls`` (how often the module ran; more than 1 means
    :class:`Capture` needs ``repeated="list"`` for it). Rows follow the model's module
    order. Runs in eval mode under ``torch.no_grad()`` so that listing neither updates
    BatchNorm statistics nor builds a graph; hooks and modes are restored afterwards.
    """
    check_model(model)
    shapes: dict[str, tuple[int, ...]] = {}
    calls: Counter[str] = Counter()

    def record(name: str, output: Any) -> None:
        tensor = _extract(output)
        if tensor is not None:
            calls[name] += 1
            shapes.setdefault(name, tuple(tensor.shape))

    modules = named_modules(model)
    with contextlib.ExitStack() as stack, torch.no_grad():
        stack.enter_context(eval_mode(model))
        for name, module in modules:
            handle = module.register_forward_hook(
                lambda _module, _args, output, name=name: record(name, output)
            )
            stack.callback(handle.remove)
        model(sample_input)
    rows = [
        (name, type(module).__name__, shapes[name], calls[name])
        for name, module in modules
        if name in shapes
    ]
    return pd.DataFrame(rows, columns=["name", "type", "output_shape", "calls"])


def _attention_modules(model: nn.Module, layers: list[str]) -> dict[str, Attention]:
    """The timm ``Attention`` module that each selected layer is or contains, by layer name."""
    found: dict[str, Attention] = {}
    for name in layers:
        inside = [m for m in model.get_submodule(name).modules() if isinstance(m, Attention)]
        if len(inside) > 1:
            raise ValueError(
                f"layer {name!r} contains {len(inside)} timm Attention modules, so its attention "
                "is ambiguous; select the blocks one by one (e.g. r're:blocks\\.\\d+')"
            )
        if inside:
            found[name] = inside[0]
    if not found:
        raise ValueError(
            "attention=True, but no selected layer is or contains a timm Attention module "
            f"(timm.layers.Attention); {LIST_HINT}"
        )
    return found


class Capture:
    """Context manager that records the outputs of selected layers during forward passes.

    Args:
        model: any module; its hooks, per-submodule train/eval flags and timm ``fused_attn``
            flags are put back on exit, also when the body raises.
        layers: selectors (see :func:`resolve_layers`); ``KeyError`` if one matches nothing.
        tokens: what to keep of token outputs ``(b, tokens, dim)`` of a ViT or MLP-Mixer:
            ``"all"``; ``"cls"``, token 0 as ``(b, dim)`` (``ValueError`` if the model has no
            class token); ``"spatial"``, all but the model's ``num_prefix_tokens`` (timm's
            attribute; a Mixer has none, so all tokens); ``"mean"``, the mean of the spatial
            tokens, ``(b, dim)``. Applies only to 3-D outputs of models with a timm patch
            embedding; CNN feature maps ``(b, c, h, w)`` and 2-D outputs pass through unchanged. A
            3-D output whose axis 1 is not the token axis (the patch embedding before the class
            token is added, a Mixer's token-mixing MLP) raises ``ValueError`` rather than being
            reduced over the wrong axis.
        grad: if False (the default), the body runs under ``torch.no_grad()`` and outputs are
            detached; if True, the body runs with gradients enabled and outputs stay in the graph,
            for d output / d input (Fig 6).
        attention: also record, for each selected layer that is or contains one timm
            ``Attention`` module (a ViT block), its softmax probabilities
            ``(b, heads, tokens, tokens)`` in :attr:`attention`, keyed by the layer name (Fig 3).
            timm's fused ``scaled_dot_product_attention`` never materialises them, so
            ``fused_attn`` is switched off for those modules while the context is open.
        repeated: a module that runs more than once between two ``clear()`` calls raises
            ``RuntimeError`` with ``"error"``; with ``"list"`` its value is a list of every call's
            output (then every value, attention included, is a list).
        output_key: the entry to keep of dict-like outputs (default: the first value). Tuple and
            list outputs keep their first element.

    The model is in eval mode inside the context: representation analyses must not run dropout,
    stochastic depth or update BatchNorm statistics. Captured tensors are copies, so in-place ops
    later in the forward (timm ResNets' ``x += shortcut`` and ``ReLU(inplace=True)``) cannot alter
    them. A second ``model(x)`` before :meth:`clear` raises ``RuntimeError``: streaming analyses
    must never mix two minibatches by accident. That check hooks the root module, so it does not
    see passes that call a submodule directly (e.g. ``model.forward_features``).
    """

    def __init__(
        self,
        model: nn.Module,
        layers: Selectors,
        *,
        tokens: TokenMode = "all",
        grad: bool = False,
        attention: bool = False,
        repeated: Repeated = "error",
        output_key: str | None = None,
    ) -> None:
        if tokens not in TOKEN_MODES:
            raise ValueError(f"tokens must be one of {TOKEN_MODES}, not {tokens!r}")
        if repeated not in _REPEATED_MODES:
            raise ValueError(f"repeated must be one of {_REPEATED_MODES}, not {repeated!r}")
        self.model = model
        self.layers = resolve_layers(model, layers)
        if not self.layers:
            raise ValueError("no layers selected")
        self.tokens = tokens
        self.grad = grad
        self.repeated = repeated
        self.output_key = output_key
        self._has_tokens, self._prefix, has_class = token_layout(model)
        if tokens == "cls" and self._has_tokens and not has_class:
            raise ValueError(
                f"tokens='cls' but {type(model).__name__} has no class token; "
                "use tokens='mean' (or 'spatial')"
            )
        self._attention_of = _attention_modules(model, self.layers) if attention else {}
        self._outputs: dict[str, Any] = {}
        self._attention: dict[str, Any] = {}
        self._n_tokens: int | None = None
        self._stack: contextlib.ExitStack | None = None

    @property
    def outputs(self) -> dict[str, Any]:
        """Captured outputs since the last :meth:`clear`, by layer name in module order."""
        return {name: self._outputs[name] for name in self.layers if name in self._outputs}

    @property
    def attention(self) -> dict[str, Any]:
        """Attention probabilities ``(b, heads, tokens, tokens)`` by layer name (all tokens)."""
        return {name: self._attention[name] for name in self.layers if name in self._attention}

    def clear(self) -> None:
        """Forget everything captured, ready for the next minibatch."""
        self._outputs = {}
        self._attention = {}

    def __enter__(self) -> Capture:
        if self._stack is not None:
            raise RuntimeError("this Capture is already open")
        self.clear()
        with contextlib.ExitStack() as stack:
            stack.enter_context(eval_mode(self.model))
            stack.enter_context(torch.enable_grad() if self.grad else torch.no_grad())
            stack.callback(self.model.register_forward_pre_hook(self._on_root_forward).remove)
            for module in self.model.modules():
                if isinstance(module, PatchEmbed | HybridEmbed):
                    # Registered before the layer hooks, so a selected embedding is checked
                    # against this pass's token count.
                    stack.callback(module.register_forward_hook(self._on_embedding).remove)
            for name in self.layers:
                module = self.model.get_submodule(name)
                stack.callback(module.register_forward_hook(self._output_hook(name)).remove)
            for name, attn in self._attention_of.items():
                stack.callback(setattr, attn, "fused_attn", attn.fused_attn)
                attn.fused_attn = False
                # The probabilities are the *input* of attn_drop, so dropout never alters them.
                hook = attn.attn_drop.register_forward_hook(self._attention_hook(name))
                stack.callback(hook.remove)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _on_root_forward(self, _module: nn.Module, _args: Any) -> None:
        if self._outputs or self._attention:
            raise RuntimeError(
                "this capture still holds the outputs of an earlier forward pass; call "
                "cap.clear() before the next one (outputs are never accumulated across batches)"
            )
        self._n_tokens = None

    def _on_embedding(self, module: nn.Module, _args: Any, output: Any) -> None:
        patches = _extract(output)
        # timm embeddings emit NLC, or NHWC / NCHW grids when flatten=False.
        nchw = patches.ndim == 4 and getattr(module, "output_fmt", "NCHW") == "NCHW"
        grid = patches.shape[2:] if nchw else patches.shape[1:-1]
        self._n_tokens = math.prod(grid) + self._prefix

    def _output_hook(self, name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, _args: Any, output: Any) -> None:
            tensor = _extract(output, self.output_key)
            if tensor is None:
                raise TypeError(
                    f"layer {name!r} ({type(module).__name__}) returned {type(output).__name__}, "
                    "which holds no tensor; pick a different layer"
                )
            self._store(self._outputs, name, module, self._select_tokens(name, tensor))

        return hook

    def _attention_hook(self, name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, args: Any, _output: Any) -> None:
            self._store(self._attention, name, module, args[0])

        return hook

    def _select_tokens(self, name: str, tensor: torch.Tensor) -> torch.Tensor:
        if self.tokens != "all" and self._has_tokens and tensor.ndim == 3 and (
                self._n_tokens is None or tensor.shape[1] != self._n_tokens):
            expected = "" if self._n_tokens is None else f" ({self._n_tokens} here)"
            raise ValueError(
                f"layer {name!r} output {tuple(tensor.shape)} is not (batch, tokens{expected}, "
                "dim): the layer is inside or before the patch embedding, or works on transposed "
                "tokens (a Mixer's token-mixing MLP); capture it with tokens='all'"
            )
        return select_tokens(tensor, self.tokens, has_tokens=self._has_tokens,
                             prefix=self._prefix, name=name)

    def _store(
        self, store: dict[str, Any], name: str, module: nn.Module, tensor: torch.Tensor
    ) -> None:
        # detach() despite the body's no_grad, which misses forwards that re-enable grad or run
        # on other threads; clone() so that in-place ops later in the forward (ResNets'
        # x += shortcut) cannot change what was captured.
        tensor = (tensor if self.grad else tensor.detach()).clone()
        if self.repeated == "list":
            store.setdefault(name, []).append(tensor)
        elif name in store:
            raise RuntimeError(
                f"layer {name!r} ({type(module).__name__}) ran twice since the last cap.clear(): "
                "the module is reused within one forward pass (e.g. one activation applied "
                "twice), or a pass bypassed the root module; pick a different layer (see the "
                "'calls' column of list_layers) or pass repeated='list' to keep every call"
            )
        else:
            store[name] = tensor


# Lower-case alias, read as a verb in ``with capture(model, layers) as cap:``.
capture = Capture
