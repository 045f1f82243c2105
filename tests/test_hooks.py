"""Tests for seelike.hooks on the book's timm architectures (random init) and tiny modules."""

from __future__ import annotations

import contextlib
import re

import pytest
import timm
import torch
from timm.layers import Attention
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from seelike.hooks import capture, list_layers
from seelike.selectors import LayerNotFoundError, resolve_layers

MODES = ("all", "cls", "spatial", "mean")


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


@pytest.fixture(scope="module")
def vit_b16() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("vit_base_patch16_224", pretrained=False).eval()


@pytest.fixture(scope="module")
def vit_b32() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("vit_base_patch32_224", pretrained=False).eval()


@pytest.fixture(scope="module")
def cifar_vit() -> nn.Module:
    torch.manual_seed(0)
    return VisionTransformer(
        img_size=32, patch_size=4, embed_dim=192, depth=12, num_heads=3, num_classes=10
    ).eval()


@pytest.fixture(scope="module")
def cifar_vit_gap() -> nn.Module:
    torch.manual_seed(0)
    return VisionTransformer(
        img_size=32,
        patch_size=4,
        embed_dim=192,
        depth=12,
        num_heads=3,
        num_classes=10,
        class_token=False,
        global_pool="avg",
    ).eval()


@pytest.fixture(scope="module")
def mixer() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("mixer_b16_224", pretrained=False).eval()


@pytest.fixture(scope="module")
def resnet50() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("resnet50", pretrained=False).eval()


@pytest.fixture(scope="module")
def resnetv2() -> nn.Module:
    torch.manual_seed(0)
    return timm.create_model("resnetv2_50x1_bit", pretrained=False).eval()


@pytest.fixture(scope="module")
def cifar_resnet18() -> nn.Module:
    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False, num_classes=10)
    net.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()
    return net.eval()


def _images(batch: int, size: int) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(1))


class TwiceReLU(nn.Module):
    """Declares ``second`` before ``first`` but runs ``first`` first, and reuses ``act``."""

    def __init__(self) -> None:
        super().__init__()
        self.second = nn.Linear(4, 4)
        self.first = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.second(self.act(self.first(x))))


class TupleOut(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x + 1, x + 2


class DictOut(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"feat": x * 3, "aux": x * 4}


class NoneOut(nn.Module):
    def forward(self, x: torch.Tensor) -> None:
        return None


class Structured(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pair = TupleOut()
        self.named = DictOut()
        self.nothing = NoneOut()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.nothing(x)
        return self.named(self.pair(x)[0])["feat"]


# --- selection -----------------------------------------------------------------------------


def test_resolve_exact_glob_and_regex_in_model_order(cifar_vit: nn.Module) -> None:
    assert resolve_layers(cifar_vit, ["blocks.3", "blocks.1"]) == ["blocks.1", "blocks.3"]
    blocks = [f"blocks.{i}" for i in range(12)]  # numeric, not lexicographic, order
    assert resolve_layers(cifar_vit, re.compile(r"blocks\.\d+")) == blocks
    assert resolve_layers(cifar_vit, r"re:blocks\.\d+\.attn") == [f"{b}.attn" for b in blocks]
    glob = resolve_layers(cifar_vit, "blocks.1?.mlp")
    assert glob == ["blocks.10.mlp", "blocks.11.mlp"]
    # fnmatch's * crosses dots, so "blocks.1*" includes submodules of blocks.1.
    assert "blocks.1.attn.qkv" in resolve_layers(cifar_vit, "blocks.1*")
    # overlapping selectors give each name once
    assert resolve_layers(cifar_vit, ["norm", "nor?", "re:norm"]) == ["norm"]


@pytest.mark.parametrize(
    ("selector", "close"),
    [("blocks.12", "blocks.11"), ("blocks.*.atn", ".attn"), (r"re:blok\.\d", "blocks.")],
)
def test_unmatched_selector_raises_keyerror_with_close_names(
    cifar_vit: nn.Module, selector: str, close: str
) -> None:
    with pytest.raises(KeyError) as info:
        resolve_layers(cifar_vit, ["blocks.0", selector])
    assert isinstance(info.value, LayerNotFoundError)
    message = str(info.value)
    assert close in message
    assert "list_layers" in message
    with pytest.raises(KeyError):
        capture(cifar_vit, selector)


def test_invalid_options(cifar_vit: nn.Module) -> None:
    with pytest.raises(ValueError, match="tokens"):
        capture(cifar_vit, "norm", tokens="first")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="repeated"):
        capture(cifar_vit, "norm", repeated="last")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no layers"):
        capture(cifar_vit, [])


# --- token modes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "size", "patches", "heads", "dim"),
    [
        ("vit_b16", 224, 196, 12, 768),
        ("vit_b32", 224, 49, 12, 768),
        ("cifar_vit", 32, 64, 3, 192),
    ],
)
def test_vit_token_modes_and_attention_shapes(
    request: pytest.FixtureRequest, fixture: str, size: int, patches: int, heads: int, dim: int
) -> None:
    model = request.getfixturevalue(fixture)
    layers = ["blocks.0", "blocks.11", "norm", "head"]
    batch = 1 if size == 224 else 2
    with contextlib.ExitStack() as stack:
        # Nested captures share one forward pass, so the modes can be compared exactly.
        caps = {
            mode: stack.enter_context(capture(model, layers, tokens=mode, attention=True))
            for mode in MODES
        }
        model(_images(batch, size))
    everything = caps["all"].outputs
    assert list(everything) == layers
    for name in ["blocks.0", "blocks.11", "norm"]:
        tokens = everything[name]
        assert tokens.shape == (batch, 1 + patches, dim)
        assert caps["cls"].outputs[name].shape == (batch, dim)
        torch.testing.assert_close(caps["cls"].outputs[name], tokens[:, 0])
        torch.testing.assert_close(caps["spatial"].outputs[name], tokens[:, 1:])
        torch.testing.assert_close(caps["mean"].outputs[name], tokens[:, 1:].mean(1))
    for mode in MODES:  # 2-D logits are not tokens
        assert caps[mode].outputs["head"].shape == (batch, model.num_classes)
    attention = caps["all"].attention
    assert list(attention) == ["blocks.0", "blocks.11"]  # norm and head hold no Attention
    for probs in attention.values():
        assert probs.shape == (batch, heads, 1 + patches, 1 + patches)
        torch.testing.assert_close(probs.sum(-1), torch.ones(batch, heads, 1 + patches))
    assert _hook_count(model) == 0


def test_vit_without_class_token(cifar_vit_gap: nn.Module) -> None:
    assert cifar_vit_gap.num_prefix_tokens == 0
    with pytest.raises(ValueError, match="no class token"):
        capture(cifar_vit_gap, "blocks.0", tokens="cls")
    with (
        capture(cifar_vit_gap, "blocks.5") as full,
        capture(cifar_vit_gap, "blocks.5", tokens="spatial") as spatial,
    ):
        cifar_vit_gap(_images(2, 32))
    assert full.outputs["blocks.5"].shape == (2, 64, 192)
    torch.testing.assert_close(spatial.outputs["blocks.5"], full.outputs["blocks.5"])


def test_mixer_has_no_prefix_tokens(mixer: nn.Module) -> None:
    with pytest.raises(ValueError, match="no class token"):
        capture(mixer, "blocks.0", tokens="cls")
    layers = ["blocks.0", "blocks.11"]
    with (
        capture(mixer, layers) as full,
        capture(mixer, layers, tokens="spatial") as spatial,
        capture(mixer, layers, tokens="mean") as mean,
    ):
        mixer(_images(1, 224))
    for name in layers:
        assert full.outputs[name].shape == (1, 196, 768)
        torch.testing.assert_close(spatial.outputs[name], full.outputs[name])
        torch.testing.assert_close(mean.outputs[name], full.outputs[name].mean(1))


@pytest.mark.parametrize(
    ("fixture", "layer", "mode"),
    [
        ("mixer", "blocks.0.mlp_tokens", "mean"),  # works on (b, dim, tokens)
        ("cifar_vit", "patch_embed", "cls"),  # no class token yet: token 0 is a patch
        ("cifar_vit", "patch_embed.norm", "spatial"),  # runs before the embedding finishes
    ],
)
def test_outputs_without_token_axis_refuse_token_modes(
    request: pytest.FixtureRequest, fixture: str, layer: str, mode: str
) -> None:
    model = request.getfixturevalue(fixture)
    size = 224 if fixture == "mixer" else 32
    with pytest.raises(ValueError, match="tokens='all'"), capture(model, layer, tokens=mode):
        model(_images(1, size))
    assert _hook_count(model) == 0


@pytest.mark.parametrize(
    ("fixture", "size", "shapes"),
    [
        ("resnet50", 64, {"layer1": (1, 256, 16, 16), "layer4": (1, 2048, 2, 2)}),
        ("resnetv2", 64, {"stages.0": (1, 256, 16, 16), "stages.3": (1, 2048, 2, 2)}),
        ("cifar_resnet18", 32, {"layer1": (1, 64, 32, 32), "layer4": (1, 512, 4, 4)}),
    ],
)
def test_cnn_feature_maps_ignore_token_modes(
    request: pytest.FixtureRequest, fixture: str, size: int, shapes: dict[str, tuple[int, ...]]
) -> None:
    model = request.getfixturevalue(fixture)
    with (
        capture(model, list(shapes)) as full,
        capture(model, list(shapes), tokens="cls") as cls,
        capture(model, list(shapes), tokens="mean") as mean,
    ):
        model(_images(1, size))
    assert {name: tuple(t.shape) for name, t in full.outputs.items()} == shapes
    for name in shapes:
        torch.testing.assert_close(cls.outputs[name], full.outputs[name])
        torch.testing.assert_close(mean.outputs[name], full.outputs[name])


# --- attention probabilities ---------------------------------------------------------------


def test_attention_matches_manual_softmax_and_fused_output(cifar_vit: nn.Module) -> None:
    attns = [m for m in cifar_vit.modules() if isinstance(m, Attention)]
    for attn in attns:
        attn.fused_attn = True  # the default where torch has SDPA; made explicit here
    x = _images(2, 32)
    with capture(cifar_vit, "blocks.3") as fused:
        cifar_vit(x)
    with capture(cifar_vit, ["blocks.3.norm1", "blocks.3"], attention=True) as cap:
        assert not cifar_vit.blocks[3].attn.fused_attn
        assert cifar_vit.blocks[4].attn.fused_attn  # only selected blocks are switched
        cifar_vit(x)
    assert all(attn.fused_attn for attn in attns)
    torch.testing.assert_close(cap.outputs["blocks.3"], fused.outputs["blocks.3"])

    attn = cifar_vit.blocks[3].attn
    tokens = cap.outputs["blocks.3.norm1"]  # the input of blocks.3.attn
    b, n, d = tokens.shape
    with torch.no_grad():
        qkv = attn.qkv(tokens).reshape(b, n, 3, attn.num_heads, d // attn.num_heads)
    q, k, _ = qkv.permute(2, 0, 3, 1, 4)
    expected = (q @ k.transpose(-2, -1) / (d // attn.num_heads) ** 0.5).softmax(-1)
    assert list(cap.attention) == ["blocks.3"]
    torch.testing.assert_close(cap.attention["blocks.3"], expected)


def test_attention_needs_exactly_one_attention_module(
    cifar_vit: nn.Module, cifar_resnet18: nn.Module
) -> None:
    with pytest.raises(ValueError, match="no selected layer"):
        capture(cifar_resnet18, "layer1", attention=True)
    with pytest.raises(ValueError, match="12 timm Attention"):
        capture(cifar_vit, "blocks", attention=True)


def test_everything_restored_when_forward_raises(cifar_vit: nn.Module) -> None:
    attns = [m for m in cifar_vit.modules() if isinstance(m, Attention)]
    for attn in attns:
        attn.fused_attn = True
    cifar_vit.train()
    cifar_vit.blocks[2].eval()
    before = _modes(cifar_vit)
    try:
        with (
            pytest.raises(AssertionError, match="Input height"),
            capture(cifar_vit, r"re:blocks\.\d+", attention=True, grad=True),
        ):
            assert not any(_modes(cifar_vit))
            cifar_vit(_images(1, 28))  # wrong size: timm's PatchEmbed raises
        assert all(attn.fused_attn for attn in attns)
        assert _hook_count(cifar_vit) == 0
        assert _modes(cifar_vit) == before
        assert torch.is_grad_enabled()
    finally:
        cifar_vit.eval()


def test_hooks_and_modes_restored_after_exception_in_body(cifar_resnet18: nn.Module) -> None:
    cifar_resnet18.train()
    cifar_resnet18.layer1.eval()  # a deliberate per-submodule mix
    before = _modes(cifar_resnet18)
    try:
        with pytest.raises(ZeroDivisionError), capture(cifar_resnet18, "layer*") as cap:
            cifar_resnet18(_images(1, 32))
            assert len(cap.outputs) == len(resolve_layers(cifar_resnet18, "layer*"))
            assert _hook_count(cifar_resnet18) > 0
            1 / 0  # noqa: B018
        assert _hook_count(cifar_resnet18) == 0
        assert _modes(cifar_resnet18) == before
    finally:
        cifar_resnet18.eval()


# --- gradients and copies ------------------------------------------------------------------


def test_outputs_detached_by_default(cifar_resnet18: nn.Module) -> None:
    x = _images(1, 32).requires_grad_()
    with capture(cifar_resnet18, ["bn1", "layer2"]) as cap:
        assert not torch.is_grad_enabled()
        cifar_resnet18(x)
    assert torch.is_grad_enabled()
    assert not any(t.requires_grad for t in cap.outputs.values())
    with capture(cifar_resnet18, "layer2") as cap, torch.enable_grad():
        cifar_resnet18(x)  # grad re-enabled inside the body: outputs still detached
    assert not cap.outputs["layer2"].requires_grad


def test_grad_keeps_outputs_in_graph_for_receptive_fields(cifar_resnet18: nn.Module) -> None:
    x = _images(1, 32).requires_grad_()
    with torch.no_grad(), capture(cifar_resnet18, "bn1", grad=True) as cap:
        cifar_resnet18(x)
    # bn1 follows one 3x3 stride-1 conv: its receptive field is the 3x3 window around a pixel.
    cap.outputs["bn1"][0, :, 16, 16].sum().backward()
    field = x.grad.abs().sum(1)[0] > 0
    window = torch.zeros(32, 32, dtype=torch.bool)
    window[15:18, 15:18] = True
    assert torch.equal(field, window)


def test_captures_survive_later_inplace_ops(cifar_resnet18: nn.Module) -> None:
    assert cifar_resnet18.act1.inplace  # ReLU(inplace=True) overwrites bn1's output
    x = _images(2, 32)
    with capture(cifar_resnet18, "bn1") as cap:
        cifar_resnet18(x)
    with torch.no_grad():
        expected = cifar_resnet18.bn1(cifar_resnet18.conv1(x))
    assert cap.outputs["bn1"].min() < 0
    torch.testing.assert_close(cap.outputs["bn1"], expected)


# --- repeated calls and streaming ----------------------------------------------------------


def test_reused_module_raises_or_lists() -> None:
    model = TwiceReLU().eval()
    x = torch.randn(3, 4)
    with pytest.raises(RuntimeError, match=r"'act'.*repeated='list'"), capture(model, "act"):
        model(x)
    assert _hook_count(model) == 0
    with capture(model, "act", repeated="list") as cap:
        model(x)
    with torch.no_grad():
        first = torch.relu(model.first(x))
        second = torch.relu(model.second(first))
    assert len(cap.outputs["act"]) == 2
    torch.testing.assert_close(cap.outputs["act"][0], first)
    torch.testing.assert_close(cap.outputs["act"][1], second)
    calls = list_layers(model, x).set_index("name")["calls"]
    assert calls.to_dict() == {"second": 1, "first": 1, "act": 2}


def test_outputs_follow_module_order_not_call_order() -> None:
    model = TwiceReLU().eval()
    with capture(model, ["first", "second"]) as cap:
        model(torch.randn(3, 4))
    assert list(cap.outputs) == ["second", "first"]


def test_second_forward_needs_clear(cifar_resnet18: nn.Module) -> None:
    x1, x2 = _images(2, 32), _images(2, 32) + 1
    with capture(cifar_resnet18, "layer3") as reference:
        cifar_resnet18(x2)
    with capture(cifar_resnet18, "layer3", repeated="list") as cap:
        cifar_resnet18(x1)
        with pytest.raises(RuntimeError, match=r"cap\.clear\(\)"):
            cifar_resnet18(x2)
        cap.clear()
        assert cap.outputs == {}
        cifar_resnet18(x2)
    assert len(cap.outputs["layer3"]) == 1
    torch.testing.assert_close(cap.outputs["layer3"][0], reference.outputs["layer3"])


# --- output kinds --------------------------------------------------------------------------


def test_tuple_and_dict_outputs() -> None:
    model = Structured()
    x = torch.randn(2, 3)
    with capture(model, ["pair", "named"]) as cap:
        model(x)
    torch.testing.assert_close(cap.outputs["pair"], x + 1)
    torch.testing.assert_close(cap.outputs["named"], (x + 1) * 3)
    with capture(model, "named", output_key="aux") as cap:
        model(x)
    torch.testing.assert_close(cap.outputs["named"], (x + 1) * 4)
    with pytest.raises(KeyError, match="'feat', 'aux'"), capture(model, "named", output_key="z"):
        model(x)
    with pytest.raises(TypeError, match=r"'nothing'.*no tensor"), capture(model, "nothing"):
        model(x)
    assert _hook_count(model) == 0


# --- list_layers ---------------------------------------------------------------------------


def test_list_layers(cifar_vit: nn.Module) -> None:
    table = list_layers(cifar_vit, _images(2, 32))
    assert list(table.columns) == ["name", "type", "output_shape", "calls"]
    names = [name for name, _ in cifar_vit.named_modules() if name]
    assert list(table["name"]) == [name for name in names if name in set(table["name"])]
    assert "" not in set(table["name"])
    rows = table.set_index("name")
    assert rows.loc["blocks.0", "type"] == "Block"
    assert rows.loc["blocks.0", "output_shape"] == (2, 65, 192)
    assert rows.loc["blocks.0.attn.qkv", "output_shape"] == (2, 65, 576)
    assert rows.loc["head", "output_shape"] == (2, 10)
    assert set(rows["calls"]) == {1}
    assert _hook_count(cifar_vit) == 0


def test_list_layers_skips_tensorless_outputs() -> None:
    table = list_layers(Structured(), torch.randn(2, 3))
    assert list(table["name"]) == ["pair", "named"]
    assert list(table["output_shape"]) == [(2, 3), (2, 3)]


def test_list_layers_leaves_batchnorm_statistics_and_mode(cifar_resnet18: nn.Module) -> None:
    cifar_resnet18.train()
    try:
        stats = cifar_resnet18.bn1.running_mean.clone()
        table = list_layers(cifar_resnet18, _images(2, 32))
        assert torch.equal(cifar_resnet18.bn1.running_mean, stats)
        assert all(_modes(cifar_resnet18))
    finally:
        cifar_resnet18.eval()
    assert table.set_index("name").loc["layer4", "output_shape"] == (2, 512, 4, 4)
