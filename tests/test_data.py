"""Tests for seelike.data: CIFAR-10 download/convert/verify, image files, Imagenette, probe sets.

The download paths run on small synthetic archives in the official formats,
served by a stand-in for ``pooch.retrieve`` or by a local HTTP server; the real
datasets come from the ``mirror`` fixture (``SEELIKE_DATA``).
"""

from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import shutil
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pooch
import pytest
import requests
import timm
import torch
from PIL import Image
from torch import nn

from seelike import data, datasets, probe_sets
from seelike import io as sio
from seelike.book import images
from seelike.book.images import probe_set
from seelike.book.presets import get_preset
from seelike.network import ImageClassifier

# --- synthetic CIFAR-10 archive -----------------------------------------------------------------


def _cifar_batch(rng: np.random.Generator, n: int, tag: str) -> dict[bytes, object]:
    """One batch in the official pickle layout: rows of 3072 bytes (R, G, B planes)."""
    names = [f"{rng.choice(['cat', 'ship', 'frog'])}_s_{tag}{k:03d}.png".encode()
             for k in rng.permutation(n)]
    return {b"batch_label": tag.encode(), b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": names}


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


def _expected(batches: list[dict[bytes, object]]) -> dict[str, np.ndarray]:
    """The cache layout computed independently: lexsort instead of the loader's sorted()."""
    x = np.concatenate([b[b"data"] for b in batches]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    y = np.concatenate([b[b"labels"] for b in batches]).astype(np.int64)
    fn = np.array([f.decode() for b in batches for f in b[b"filenames"]])
    order = np.lexsort((fn, y))
    return dict(x=x[order], y=y[order], filenames=fn[order])


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


@pytest.fixture
def cifar_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A 5+1-batch archive of a few random images; hashes patched to match its content."""
    rng = np.random.default_rng(0)
    train = [_cifar_batch(rng, 6, f"{i}_") for i in range(1, 6)]
    test = [_cifar_batch(rng, 8, "t_")]
    members = {f"cifar-10-batches-py/data_batch_{i}": pickle.dumps(b)
               for i, b in enumerate(train, 1)}
    members["cifar-10-batches-py/test_batch"] = pickle.dumps(test[0])
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    payload = _tar_gz(members)
    path = tmp_path / "served" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    path.write_bytes(payload)
    expected = {"train": _expected(train), "test": _expected(test)}
    monkeypatch.setattr(data, "CIFAR10_SHA256", {
        s: (_sha(e["x"]), _sha(e["y"].astype("<i8"))) for s, e in expected.items()})
    monkeypatch.setattr(data, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    root = tmp_path / "root"
    monkeypatch.setenv("SEELIKE_DATA", str(root))
    return SimpleNamespace(path=path, payload=payload, expected=expected, root=root,
                           target=root / "datasets" / "cifar10", members=members)


def _serve_file(monkeypatch: pytest.MonkeyPatch, archive: Path) -> list[dict]:
    """Replace pooch.retrieve by one that hands out ``archive``; returns the calls made."""
    calls: list[dict] = []

    def retrieve(url: str, known_hash: str | None = None, **kwargs: object) -> str:
        calls.append(dict(url=url, known_hash=known_hash, **kwargs))
        return str(archive)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    return calls


def _empty_or_missing(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def retrieve(url: str, *args: object, **kwargs: object) -> str:
        raise requests.exceptions.ConnectionError(f"Failed to resolve host of {url}")

    monkeypatch.setattr(pooch, "retrieve", retrieve)


def test_download_convert_verify(cifar_archive: SimpleNamespace,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _serve_file(monkeypatch, cifar_archive.path)
    x, y, names = data.cifar10("test")
    assert calls == [dict(url=data.CIFAR10_URL, known_hash=f"md5:{data.CIFAR10_MD5}",
                          path=cifar_archive.root / "downloads", progressbar=True)]
    assert sorted(p.name for p in cifar_archive.target.iterdir()) == ["test.npz", "train.npz"]
    for split, n in (("train", 30), ("test", 8)):
        exp = cifar_archive.expected[split]
        with np.load(cifar_archive.target / f"{split}.npz", allow_pickle=False) as f:
            assert sorted(f.files) == ["filenames", "x", "y"]
            assert f["x"].dtype == np.uint8 and f["x"].shape == (n, 32, 32, 3)
            assert f["y"].dtype == np.int64 and f["filenames"].dtype.kind == "U"
            keys = list(zip(f["y"].tolist(), f["filenames"].tolist(), strict=True))
            assert keys == sorted(keys)
            for k in exp:
                np.testing.assert_array_equal(f[k], exp[k])
    np.testing.assert_array_equal(x, cifar_archive.expected["test"]["x"])
    np.testing.assert_array_equal(names, cifar_archive.expected["test"]["filenames"])
    # The train split was written by the same download: no second fetch.
    xt, yt, _ = data.cifar10("train")
    assert len(calls) == 1 and len(xt) == len(yt) == 30
    # Pixel (0, 0) of each image is byte 0 / 1024 / 2048 of its official row (R, G, B planes).
    raw = pickle.loads(cifar_archive.members["cifar-10-batches-py/test_batch"])
    row = raw[b"filenames"].index(names[0].encode())
    assert x[0, 0, 0].tolist() == raw[b"data"][row][[0, 1024, 2048]].tolist()
    assert y[0] == raw[b"labels"][row]


def test_corrupt_cache_names_file_hashes_and_remedy(cifar_archive: SimpleNamespace,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _serve_file(monkeypatch, cifar_archive.path)
    data.cifar10("test")
    path = cifar_archive.target / "test.npz"
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["x"][3, 5, 7, 1] ^= 1
    np.savez(path, **arrays)
    monkeypatch.setattr(data, "_CACHE", {})  # as in a fresh process
    with pytest.raises(data.DataError) as err:
        data.cifar10("test")
    msg = str(err.value)
    assert str(path) in msg and _sha(arrays["x"]) in msg
    assert data.CIFAR10_SHA256["test"][0] in msg and "delete it" in msg


def test_offline_with_nothing_cached_names_env_and_url(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEELIKE_DATA", str(tmp_path))
    _offline(monkeypatch)
    with pytest.raises(data.DataError) as err:
        data.cifar10("train")
    assert "SEELIKE_DATA" in str(err.value) and data.CIFAR10_URL in str(err.value)
    assert not (tmp_path / "datasets" / "cifar10").exists()
    with pytest.raises(data.DataError, match="download=False"):
        data.cifar10("test", download=False)


@pytest.mark.parametrize("damage", ["truncated", "member_missing"])
def test_unreadable_archive_leaves_no_npz_and_is_removed(
        cifar_archive: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    if damage == "truncated":
        cifar_archive.path.write_bytes(cifar_archive.payload[:len(cifar_archive.payload) // 2])
    else:  # the train batches convert; the test batch is not there
        members = {k: v for k, v in cifar_archive.members.items() if "test_batch" not in k}
        cifar_archive.path.write_bytes(_tar_gz(members))
    _serve_file(monkeypatch, cifar_archive.path)
    with pytest.raises(data.DataError, match="re-download"):
        data.cifar10("train")
    assert _empty_or_missing(cifar_archive.target)
    assert not cifar_archive.path.exists()


def test_failed_npz_write_leaves_no_partial_file(cifar_archive: SimpleNamespace,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    _serve_file(monkeypatch, cifar_archive.path)

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sio.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        data.cifar10("test")
    assert list(cifar_archive.target.iterdir()) == []


@pytest.fixture
def http_server() -> Iterator[SimpleNamespace]:
    """A local HTTP server whose single response the test sets: real pooch, no internet."""
    state = SimpleNamespace(body=b"", length=None)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(state.length or len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)  # fewer bytes than announced: a cut connection

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz"
    yield state
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("response", ["complete", "corrupt", "interrupted"])
def test_pooch_keeps_only_verified_downloads(cifar_archive: SimpleNamespace,
                                             monkeypatch: pytest.MonkeyPatch,
                                             http_server: SimpleNamespace, response: str) -> None:
    for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setattr(data, "CIFAR10_URL", http_server.url)
    good = cifar_archive.payload
    http_server.body = {"complete": good, "corrupt": good[:-1] + bytes([good[-1] ^ 1]),
                        "interrupted": good[:len(good) // 2]}[response]
    if response == "interrupted":
        http_server.length = len(good)
    downloads = cifar_archive.root / "downloads"
    if response == "complete":  # the control: the same set-up succeeds with good bytes
        x, _, _ = data.cifar10("test")
        np.testing.assert_array_equal(x, cifar_archive.expected["test"]["x"])
        assert [p.read_bytes() for p in downloads.iterdir()] == [good]
        return
    with pytest.raises(data.DataError) as err:
        data.cifar10("test")
    assert http_server.url in str(err.value)
    if response == "corrupt":
        assert "hash" in str(err.value).lower()
    else:
        assert "Connection broken" in str(err.value)
    assert list(downloads.iterdir()) == []
    assert not cifar_archive.target.exists()


def test_mirror_cifar10_splits(mirror: Path) -> None:
    for split, per_class in (("train", 5000), ("test", 1000)):
        x, y, names = data.cifar10(split)
        assert x.dtype == np.uint8 and x.shape == (10 * per_class, 32, 32, 3)
        assert y.dtype == np.int64
        assert np.bincount(y, minlength=10).tolist() == [per_class] * 10
        assert len(set(names.tolist())) == len(names)
        keys = list(zip(y.tolist(), names.tolist(), strict=True))
        assert keys == sorted(keys)
    assert (mirror / "datasets" / "cifar10" / "classes.txt").read_text().split() == list(
        datasets.CIFAR10_CLASSES)


# --- class_balanced_subset ---------------------------------------------------------------------


def test_class_balanced_subset_counts_and_determinism() -> None:
    y = np.repeat([0, 1, 2], [100, 50, 30])[np.random.default_rng(1).permutation(180)]
    idx = data.class_balanced_subset(y, 0.1, seed=3)
    assert np.bincount(y[idx]).tolist() == [10, 5, 3]
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, data.class_balanced_subset(y, 0.1, seed=3))
    assert not np.array_equal(idx, data.class_balanced_subset(y, 0.1, seed=4))
    np.testing.assert_array_equal(data.class_balanced_subset(y, 1.0), np.arange(180))
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="fraction"):
            data.class_balanced_subset(y, bad)


# --- image files -------------------------------------------------------------------------------


def test_image_folder_csv_and_tree_agree_on_imagenette_mini(mirror: Path) -> None:
    folder = mirror / "datasets" / "imagenette-mini"
    csv_paths, csv_labels = data.image_folder(folder / "labels.csv")
    tree_paths, tree_labels = data.image_folder(folder / "val")
    table = pd.read_csv(folder / "labels.csv")
    assert csv_paths == [str(folder / f) for f in table["filename"]]
    assert len(csv_paths) == 200 and np.bincount(csv_labels).tolist() == [20] * 10
    assert all(Path(p).is_file() for p in csv_paths)
    assert dict(zip(tree_paths, tree_labels.tolist(), strict=True)) == dict(
        zip(csv_paths, csv_labels.tolist(), strict=True))
    assert csv_labels.dtype == tree_labels.dtype == np.int64


def test_image_folder_tree_sorts_classes_and_skips_non_images(tmp_path: Path) -> None:
    for cls, files in (("zebra", ["b.png", "a.JPG", ".hidden.png", "notes.txt"]),
                       ("aardvark", ["c.jpeg"])):
        (tmp_path / cls).mkdir()
        for f in files:
            (tmp_path / cls / f).write_bytes(b"")
    (tmp_path / ".cache").mkdir()
    paths, labels = data.image_folder(tmp_path)
    assert [Path(p).relative_to(tmp_path).as_posix() for p in paths] == [
        "aardvark/c.jpeg", "zebra/a.JPG", "zebra/b.png"]
    assert labels.tolist() == [0, 1, 1]
    with pytest.raises(data.DataError):
        data.image_folder(tmp_path / "missing")


def _timm_reference(path: str | Path, size: int, crop_pct: float, interpolation: str
                    ) -> torch.Tensor:
    """timm's own evaluation transform, with normalisation turned into the identity."""
    t = timm.data.create_transform(input_size=(3, size, size), crop_pct=crop_pct,
                                   interpolation=interpolation, is_training=False,
                                   mean=(0, 0, 0), std=(1, 1, 1))
    with Image.open(path) as img:
        return t(img.convert("RGB"))


@pytest.mark.parametrize("model", ["vit_base_patch32_224.augreg_in21k",
                                   "resnetv2_50x1_bit.goog_in21k"])
def test_load_images_matches_timm_eval_transform(mirror: Path, model: str) -> None:
    paths, _ = data.image_folder(mirror / "datasets" / "imagenette-mini" / "labels.csv")
    grey = [p for p in paths if Image.open(p).mode == "L"][:1]
    picks = [paths[0], paths[57], *grey]
    x = data.load_images(picks, model=model)
    assert x.shape == (len(picks), 3, 224, 224) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    cfg = data.preprocess_config(model)
    for img, path in zip(x, picks, strict=True):
        torch.testing.assert_close(img, _timm_reference(path, 224, cfg["crop_pct"],
                                                        cfg["interpolation"]), atol=0, rtol=0)
    assert grey and torch.equal(x[-1, 0], x[-1, 2])


@pytest.mark.parametrize("shape", [(300, 200), (200, 301)])
def test_load_images_crops_centre_of_non_square_images(tmp_path: Path,
                                                       shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "img.png"
    Image.fromarray(rng.integers(0, 256, (*shape[::-1], 3), dtype=np.uint8)).save(path)
    x = data.load_images([path], 64, crop_pct=0.8, interpolation="bilinear")
    assert x.shape == (1, 3, 64, 64)
    torch.testing.assert_close(x[0], _timm_reference(path, 64, 0.8, "bilinear"), atol=0, rtol=0)
    # crop_pct 1 and no resizing: the exact centre pixels.
    big = data.load_images([path], min(shape), crop_pct=1.0)
    arr = np.asarray(Image.open(path))
    h, w = arr.shape[:2]
    s = min(shape)
    top, left = round((h - s) / 2), round((w - s) / 2)
    np.testing.assert_array_equal((big[0].permute(1, 2, 0) * 255).round().byte().numpy(),
                                  arr[top:top + s, left:left + s])


def test_preprocess_config_from_name_module_and_wrapper() -> None:
    cfg = data.preprocess_config("vit_base_patch32_224.augreg_in21k")
    assert cfg == dict(input_size=(3, 224, 224), crop_pct=0.9, interpolation="bicubic",
                       mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    net = timm.create_model("resnet18.a1_in1k", pretrained=False)
    from_net = data.preprocess_config(net)
    pc = net.pretrained_cfg
    assert from_net == dict(input_size=pc["input_size"], crop_pct=pc["crop_pct"],
                            interpolation=pc["interpolation"], mean=pc["mean"], std=pc["std"])
    assert data.preprocess_config(ImageClassifier(net, pc["mean"], pc["std"])) == from_net
    with pytest.raises(ValueError, match="pretrained_cfg"):
        data.preprocess_config(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no pretrained config"):
        data.preprocess_config("no_such_model_anywhere")


# --- Imagenette ---------------------------------------------------------------------------------


def test_imagenette_mirror_uses_imagenet_indices(mirror: Path) -> None:
    folder = mirror / "datasets" / "imagenette-mini"
    paths, labels, ids = data.imagenette()
    table = pd.read_csv(folder / "labels.csv").set_index("filename")
    assert len(paths) == 200 and ids == sorted(ids)
    assert paths == [str(folder / i) for i in ids]
    assert labels.tolist() == table.loc[ids, "imagenet_index"].tolist()
    assert dict(zip(table["wnid"], table["imagenet_index"], strict=True)) == \
        datasets.IMAGENETTE_CLASSES


def _imagenette_archive(path: Path) -> None:
    members = {}
    for split, n in (("train", 3), ("val", 2)):
        for wnid in ("n03888257", "n01440764"):
            for k in range(n):
                buf = io.BytesIO()
                Image.new("RGB", (40, 30), (k * 40, 0, 200)).save(buf, "JPEG")
                members[f"imagenette2-320/{split}/{wnid}/{wnid}_{k}.JPEG"] = buf.getvalue()
    members["imagenette2-320/noisy_imagenette.csv"] = b"path,noisy_labels_0,is_valid\n"
    path.write_bytes(_tar_gz(members))


def _serve_with_processor(monkeypatch: pytest.MonkeyPatch, archive: Path) -> list[str]:
    """A pooch.retrieve stand-in that 'downloads' ``archive`` and runs the processor on it."""
    urls: list[str] = []

    def retrieve(url: str, known_hash: str | None, fname: str, path: Path,
                 processor: pooch.Untar, **kwargs: object) -> object:
        urls.append(url)
        dest = Path(path) / fname
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(archive, dest)
        return processor(str(dest), "download", None)

    monkeypatch.setattr(pooch, "retrieve", retrieve)
    return urls


def test_imagenette_download_unpacks_into_place(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "served.tgz"
    _imagenette_archive(archive)
    root = tmp_path / "root"
    urls = _serve_with_processor(monkeypatch, archive)
    paths, labels, ids = data.imagenette(root, split="train")
    assert urls == [data.IMAGENETTE_URL]
    assert sorted(p.name for p in (root / "datasets").iterdir()) == ["imagenette2-320"]
    assert ids == sorted(ids) and len(ids) == 6 and ids[0] == "train/n01440764/n01440764_0.JPEG"
    assert labels.tolist() == [0] * 3 + [701] * 3
    assert all(Path(p).is_file() for p in paths)
    _, _, val_ids = data.imagenette(root, split="val")  # no second download
    assert urls == [data.IMAGENETTE_URL] and len(val_ids) == 4


def test_imagenette_broken_archive_leaves_nothing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "served.tgz"
    _imagenette_archive(archive)
    archive.write_bytes(archive.read_bytes()[:300])
    root = tmp_path / "root"
    _serve_with_processor(monkeypatch, archive)
    with pytest.raises(data.DataError, match="could not be downloaded and unpacked"):
        data.imagenette(root)
    assert _empty_or_missing(root / "datasets") and _empty_or_missing(root / "downloads")


def test_imagenette_offline_names_env_and_url(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEELIKE_DATA", str(tmp_path))
    _offline(monkeypatch)
    with pytest.raises(data.DataError) as err:
        data.imagenette()
    assert "SEELIKE_DATA" in str(err.value) and data.IMAGENETTE_URL in str(err.value)
    with pytest.raises(data.DataError, match="download=False"):
        data.imagenette(download=False)


# --- probe sets ---------------------------------------------------------------------------------


def test_probe_set_is_a_documented_deterministic_draw(mirror: Path) -> None:
    smoke = get_preset("smoke")
    a = probe_set(smoke, "cka")
    b = probe_set(smoke, "cka", seed=0)
    assert len(a) == smoke.cka_examples and a.purpose == "cka" and a.seed == 0
    probe_sets.check_same_examples(a.ids, b.ids)
    np.testing.assert_array_equal(a.images, b.images)
    # Balanced, class-mixed although the split is sorted by label.
    assert np.bincount(a.labels, minlength=10).max() - np.bincount(a.labels).min() <= 1
    assert len(set(a.labels[:10].tolist())) == 10
    # Other seeds and purposes draw other examples.
    assert not np.array_equal(a.ids, probe_set(smoke, "cka", seed=1).ids)
    att = probe_set(smoke, "attention")
    assert len(att) == smoke.attention_examples
    assert not np.array_equal(a.ids[:len(att)], att.ids)
    # A larger preset extends the smaller one's draw.
    big = probe_set(get_preset("cifar"), "cka")
    assert len(big) == get_preset("cifar").cka_examples
    np.testing.assert_array_equal(big.ids[:len(a)], a.ids)
    assert len(set(big.ids.tolist())) == len(big)
    # The preset's draw is the engine's draw at the preset's sizes.
    direct = probe_sets.probe_draw("cifar10", "cka", examples=smoke.cka_examples, seed=0,
                                   image_size=smoke.image_size)
    probe_sets.check_same_examples(a.ids, direct.ids)


def test_probe_set_rows_are_the_split_s_examples(mirror: Path) -> None:
    x_test, y_test, names_test = data.cifar10("test")
    x_train, y_train, names_train = data.cifar10("train")
    smoke = get_preset("smoke")
    rf = probe_set(smoke, "receptive_field")
    assert len(rf) == smoke.receptive_field_examples == 32
    train = probe_set(smoke, "probe_train")
    assert np.bincount(train.labels).tolist() == [smoke.probe_train_per_class] * 10
    test = probe_set(smoke, "probe_test")
    assert len(test) == smoke.probe_test_examples
    for ps, (x, y, names) in ((rf, (x_test, y_test, names_test)),
                              (train, (x_train, y_train, names_train)),
                              (test, (x_test, y_test, names_test))):
        rows = np.searchsorted(names, ps.ids, sorter=np.argsort(names))
        rows = np.argsort(names)[rows]
        np.testing.assert_array_equal(names[rows], ps.ids)
        np.testing.assert_array_equal(x[rows], ps.images)
        np.testing.assert_array_equal(y[rows], ps.labels)
    batch = rf.tensor(3, 7)
    assert batch.shape == (4, 3, 32, 32) and batch.dtype == torch.float32
    torch.testing.assert_close(batch, torch.from_numpy(rf.images[3:7]).permute(0, 3, 1, 2) / 255)


def test_paper_probe_set_reads_imagenette_files(mirror: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    paper = get_preset("paper")
    images._draw.cache_clear()  # the warning comes with the draw, made once per process
    with pytest.warns(UserWarning, match="imagenette has 200"):
        ps = probe_set(paper, "cka")
    assert len(ps) == 200 and len(set(ps.ids.tolist())) == 200
    assert len(set(ps.labels[:10].tolist())) == 10  # one of each class per round
    x = ps.tensor(0, 2)
    assert x.shape == (2, 3, 224, 224)
    torch.testing.assert_close(x, data.load_images(list(ps.images[:2]), 224))
    assert all(str(p).endswith(i) for p, i in zip(ps.images, ps.ids, strict=True))
    _offline(monkeypatch)  # the mirror has no training images; the full download does
    with pytest.raises(data.DataError, match="SEELIKE_DATA"):
        probe_set(paper, "probe_train")


def test_probe_set_is_drawn_once_per_data_folder(mirror: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    smoke = get_preset("smoke")
    first = probe_set(smoke, "cka", seed=2)
    assert probe_set(smoke, "cka", seed=2) is first
    assert probe_set(smoke, "cka", seed=3) is not first
    # Keyed by what the draw reads: a preset that differs elsewhere shares it, even one whose
    # other fields (a list of extra models) could not be hashed.
    other = smoke.with_overrides(cka_batch=smoke.cka_batch // 2, extra_models=[smoke.vit])
    assert probe_set(other, "cka", seed=2) is first
    probe_set(smoke, "cka", seed=1)
    with pytest.raises(TypeError, match="seed=True"):
        probe_set(smoke, "cka", seed=True)  # not seed=1's draw, though True == 1
    # Another data folder is another dataset: drawn from there, not served from memory.
    monkeypatch.setenv("SEELIKE_DATA", str(tmp_path / "empty"))
    _offline(monkeypatch)
    with pytest.raises(data.DataError):
        probe_set(smoke, "cka", seed=2)


def test_probe_set_rejects_unknown_names(mirror: Path) -> None:
    with pytest.raises(ValueError, match="valid: cka"):
        probe_set(get_preset("smoke"), "segmentation")
    with pytest.raises(ValueError, match="valid presets"):
        get_preset("huge")


def test_probe_draw_checks_its_arguments(mirror: Path) -> None:
    with pytest.raises(ValueError, match="valid: cka"):
        probe_sets.probe_draw("cifar10", "segmentation", examples=8, image_size=32)
    with pytest.raises(ValueError, match="exactly one"):
        probe_sets.probe_draw("cifar10", "cka", image_size=32)
    with pytest.raises(ValueError, match="exactly one"):
        probe_sets.probe_draw("cifar10", "cka", examples=8, per_class=1, image_size=32)
    with pytest.raises(ValueError, match="valid: cifar10, imagenette"):
        probe_sets.probe_draw("mnist", "cka", examples=8, image_size=32)
    per_class = probe_sets.probe_draw("cifar10", "probe_train", per_class=2, image_size=32)
    assert np.bincount(per_class.labels).tolist() == [2] * 10


def test_check_same_examples_names_first_mismatch() -> None:
    probe_sets.check_same_examples(["a", "b", "c"], np.array(["a", "b", "c"]))
    with pytest.raises(ValueError, match=r"position 1: 'b' vs 'x'"):
        probe_sets.check_same_examples(["a", "b", "c"], ["a", "x", "y"])
    with pytest.raises(ValueError, match="3 vs 2"):
        probe_sets.check_same_examples(["a", "b", "c"], ["a", "b"])
