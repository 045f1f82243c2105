"""A model's facts are declared with its class, never guessed from names; a new model joins
through the public API (an architecture declaration and a catalogue), as a reader's fork
would add one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from torch import nn

from seelike import architectures, cache, catalogue, compare, layers, memory, models, network, zoo
from seelike.architectures import Architecture
from seelike.book import plots
from seelike.book.images import probe_set
from seelike.book.presets import get_preset
from seelike.taps import Tap

# timm's ConvNeXt-atto: a convolutional network the book does not use, with stages of
# blocks named like BiT's (``stages.0.blocks.0``), which name-reading once took for a ResNet.
CONVNEXT = Architecture("cnn", r"stages\.(\d+)\.blocks\.\d+",
                        {"ConvNeXtBlock": ("conv_dw", "norm", "mlp.act")}, "#ff7f0e")
CONVNEXT_DEPTHS = (2, 2, 6, 2)


def _convnext() -> network.ImageClassifier:
    torch.manual_seed(0)
    net = timm.create_model("convnext_atto", pretrained=False, num_classes=10)
    cfg = net.pretrained_cfg
    return network.ImageClassifier(net, tuple(cfg["mean"]), tuple(cfg["std"])).eval()


class _Mine:
    """A reader's catalogue: one model, built on the meta device by name."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model

    def meta_build(self, name: str) -> nn.Module:
        if name != "convnext_atto":
            raise KeyError(f"my catalogue holds only convnext_atto, not {name!r}")
        with torch.device("meta"):
            return _convnext()

    def fingerprint(self, name: str) -> str:
        self.meta_build(name)  # the KeyError for other names
        return cache.state_fingerprint(self.model)


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declarations and catalogues a test adds vanish with it (each bumps a generation, so
    nothing cached from it outlives it either)."""
    monkeypatch.setattr(architectures, "_DECLARED", dict(architectures.declared()))
    monkeypatch.setattr(catalogue, "_CATALOGUES", list(catalogue._CATALOGUES))


def test_an_undeclared_network_raises_with_the_fix(isolated: None) -> None:
    convnext = _convnext()
    for ask in (layers.family, layers.block_layers, layers.paper_layers,
                architectures.architecture_of):
        with pytest.raises(LookupError, match=r"no architecture is declared for "
                           r"timm\.models\.convnext\.ConvNeXt.*declare\(ConvNeXt"):
            ask(convnext)

    class Mine(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    with pytest.raises(LookupError, match=r"seelike\.architectures\.declare"):
        layers.block_layers(network.ImageClassifier(Mine(), (0.0,) * 3, (1.0,) * 3))


def test_a_block_class_the_declaration_omits_is_named(isolated: None) -> None:
    architectures.declare("timm.models.convnext.ConvNeXt",
                          Architecture("cnn", r"stages\.(\d+)\.blocks\.\d+", {}, "#ff7f0e"))
    with pytest.raises(LookupError, match="is a ConvNeXtBlock, which its declared "
                                          "architecture does not list"):
        layers.paper_layers(_convnext())
    architectures.declare("timm.models.convnext.ConvNeXt", Architecture(
        "cnn", r"stages\.(\d+)\.blocks\.\d+", {"ConvNeXtBlock": ("conv_dw", "attn")}, "#ff7f0e"))
    with pytest.raises(LookupError, match=r"has no \['attn'\]"):
        layers.paper_layers(_convnext())


@pytest.mark.parametrize("bad, match", [
    (dict(family="transformer"), "family must be one of"),
    (dict(colour="blue"), "hex colour"),
    (dict(blocks="stages.(("), "regular expression"),
])
def test_malformed_declarations_are_refused(bad: dict, match: str) -> None:
    fields = dict(family="cnn", blocks=r"stages\.\d+", inner={}, colour="#000000") | bad
    with pytest.raises(ValueError, match=match):
        Architecture(**fields)


def test_declare_takes_an_architecture_for_a_class() -> None:
    with pytest.raises(TypeError, match=r"must be a seelike\.architectures\.Architecture"):
        architectures.declare("timm.models.convnext.ConvNeXt", {"family": "cnn"})
    with pytest.raises(TypeError, match="qualified name"):
        architectures.declare("ConvNeXt", CONVNEXT)


def test_a_declared_convnext_has_its_own_family_layers_and_colour(isolated: None) -> None:
    architectures.declare(timm.models.convnext.ConvNeXt, CONVNEXT)
    convnext = _convnext()
    assert layers.family(convnext) == "cnn"
    blocks = [f"net.stages.{s}.blocks.{b}" for s, depth in enumerate(CONVNEXT_DEPTHS)
              for b in range(depth)]
    assert layers.block_layers(convnext) == blocks
    assert layers.paper_layers(convnext) == [
        name for block in blocks for name in (f"{block}.conv_dw", f"{block}.norm",
                                              f"{block}.mlp.act", block)]
    assert architectures.architecture_of(convnext).colour == "#ff7f0e"
    # Every layer named is a module of the network.
    modules = dict(convnext.named_modules())
    assert all(name in modules for name in layers.paper_layers(convnext))


def test_a_readers_model_runs_cka_against_the_vit_on_the_smoke_preset(
        isolated: None, mirror: Path) -> None:
    architectures.declare(timm.models.convnext.ConvNeXt, CONVNEXT)
    convnext = _convnext()
    catalogue.register(_Mine(convnext))
    preset = get_preset("smoke")
    # By name, through the catalogue: layers, fingerprints, and the zoo still answers.
    assert layers.layer_names("convnext_atto", "blocks") == layers.block_layers(convnext)
    assert cache.model_fingerprint("convnext_atto") == cache.state_fingerprint(convnext)
    assert layers.layer_names(preset.vit, "blocks")[0] == "net.blocks.0"
    # Its family and stem by name too, as the plan reads them.
    assert layers.family_of("convnext_atto") == "cnn"
    assert layers.layer_names("convnext_atto", "stem") == ["net.stem.0"]

    vit = models.load(preset.vit)
    chosen = {"convnext_atto": layers.block_layers(convnext),
              preset.vit: layers.layer_names(preset.vit, "blocks")}
    probe = probe_set(preset, "cka")
    out = compare.cka_matrices({"convnext_atto": convnext, preset.vit: vit}, chosen,
                               [("convnext_atto", preset.vit), ("convnext_atto", "convnext_atto")],
                               probe, batch_size=preset.cka_batch)
    across = out[("convnext_atto", preset.vit)]
    assert across.shape == (sum(CONVNEXT_DEPTHS), 12)
    assert np.isfinite(across).all() and (across < 1.0 + 1e-6).all()
    within = out[("convnext_atto", "convnext_atto")]
    np.testing.assert_allclose(np.diag(within), 1.0, atol=1e-6)


def test_family_and_stem_by_name_read_the_declaration_and_the_first_convolution() -> None:
    assert [layers.family_of(n) for n in ("vit_cifar", "resnet_cifar")] == ["vit", "resnet"]
    assert layers.layer_names("resnet_cifar", "stem") == ["net.conv1"]
    # A ViT's first convolution is its patch embedding's projection.
    assert layers.layer_names("vit_cifar", "stem") == ["net.patch_embed.proj"]
    with pytest.raises(ValueError, match="which must be one of"):
        layers.layer_names("vit_cifar", "stems")


def test_zoo_and_paper_models_declare_their_colour_in_one_place() -> None:
    # The ViT family's blue unless a model declares its own shade.
    assert plots.model_colour("vit_cifar") == architectures.architecture_of(
        models.meta_build("vit_cifar")).colour
    assert plots.model_colour("vit_cifar@seed2") == plots.model_colour("vit_cifar")
    assert plots.model_colour("vit_cifar_gap") == zoo.ZOO["vit_cifar_gap"].colour
    assert plots.model_colour("resnetv2_50x1_bit.goog_in21k") == plots.model_colour(
        "resnet_cifar")
    less = "vit_base_patch16_224.augreg_in1k"
    assert plots.model_colour(less) == zoo.PAPER_MODELS[less].colour
    # Display only: the colour is not part of what was trained.
    assert "colour" not in zoo.spec_dict(zoo.ZOO["vit_cifar_gap"])


def test_the_engine_asks_the_catalogue_and_says_how_to_fill_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue, "_CATALOGUES", [])
    with pytest.raises(catalogue.NoCatalogueError, match=r"import seelike\.models"):
        catalogue.meta_build("vit_cifar")
    # A pass is never sized as if the model were a reader's unknown one: the set-up mistake
    # surfaces (a name no catalogue holds is counted by its Grams alone, a KeyError).
    with pytest.raises(catalogue.NoCatalogueError):
        memory.pass_bytes({"vit_cifar": ([Tap("net.blocks.0")], [], 1)}, 8, 32)
    with pytest.raises(TypeError, match="meta_build"):
        catalogue.register(object())  # type: ignore[arg-type]
