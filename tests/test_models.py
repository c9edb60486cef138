"""Tests of pandas_clusters.learn.models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from safetensors.torch import save_file

from pandas_clusters.learn.models import (
    SUPPORTED_MODELS,
    build_model,
    load_model,
    predict_proba,
    read_weights_metadata,
    save_weights,
)

torch.set_num_threads(1)

REQUIRED = ("resnet18", "resnet34", "resnet50", "vgg16_bn", "densenet121", "efficientnet_b0")


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    def refuse(*args, **kwargs):
        msg = "a download was attempted"
        raise AssertionError(msg)

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)


def test_required_architectures_are_supported():
    assert set(REQUIRED) <= set(SUPPORTED_MODELS)


@pytest.mark.parametrize("name", REQUIRED)
def test_build_adapts_bands_and_classes(name):
    torch.manual_seed(0)
    model = build_model(name, in_channels=2).eval()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert first.in_channels == 2
    assert last.out_features == 2
    with torch.inference_mode():
        out = model(torch.randn(1, 2, 32, 32))
    assert out.shape == (1, 2)
    assert torch.isfinite(out).all()


def test_unknown_model_lists_choices():
    with pytest.raises(ValueError, match="unknown model 'alexnet9'.*resnet18.*densenet121"):
        build_model("alexnet9", in_channels=2)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_pretrained_weights_from_local_file(tmp_path, suffix):
    torch.manual_seed(1)
    imagenet_like = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path / f"resnet18{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in imagenet_like.items()}, str(path))
    else:
        torch.save(imagenet_like, path)
    model = build_model("resnet18", in_channels=2, pretrained_path=path)
    rgb = imagenet_like["conv1.weight"]
    expected = rgb.mean(dim=1, keepdim=True).repeat(1, 2, 1, 1) * 1.5
    torch.testing.assert_close(model.conv1.weight, expected)
    torch.testing.assert_close(model.layer1[0].conv1.weight, imagenet_like["layer1.0.conv1.weight"])
    assert model.fc.out_features == 2


def test_pretrained_weights_missing_or_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        build_model("resnet18", in_channels=2, pretrained_path=tmp_path / "absent.pth")
    wrong = tmp_path / "wrong.safetensors"
    save_file({"w": torch.zeros(3)}, str(wrong))
    with pytest.raises(ValueError, match="do not fit resnet18"):
        build_model("resnet18", in_channels=2, pretrained_path=wrong)


def test_save_load_roundtrip_and_predict(tmp_path):
    torch.manual_seed(2)
    model = build_model("resnet18", in_channels=2).eval()
    path = save_weights(
        model,
        tmp_path / "w.safetensors",
        metadata={"model": "resnet18", "in_channels": 2, "size": 16},
    )
    assert read_weights_metadata(path)["size"] == 16
    back = load_model(path)
    x = np.random.default_rng(0).normal(size=(5, 2, 16, 16)).astype(np.float32)
    x[0, :, :3] = np.nan
    p1 = predict_proba(model, x, batch_size=2)
    p2 = predict_proba(back, x, batch_size=3)
    assert p1.shape == (5,) and np.isfinite(p1).all()
    assert ((p1 >= 0) & (p1 <= 1)).all()
    np.testing.assert_allclose(p1, p2, rtol=1e-5, atol=1e-6)
