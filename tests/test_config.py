import pytest
import torch

from bltlib import config


def test_scale_from_environment(monkeypatch):
    monkeypatch.setenv("BLTLIB_SCALE", "laptop")
    assert config.get_scale() == "laptop"
    monkeypatch.delenv("BLTLIB_SCALE")
    monkeypatch.setenv("CI", "true")
    assert config.get_scale() == "ci"
    monkeypatch.delenv("CI")
    assert config.get_scale() == ("gpu" if torch.cuda.is_available() else "laptop")


def test_unknown_scale_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("BLTLIB_SCALE", "huge")
    with pytest.raises(ValueError, match="huge.*ci, laptop, gpu"):
        config.get_scale()
    with pytest.raises(ValueError, match="not a preset"):
        config.pick(ci=1, laptop=2, gpu=3, scale="tiny")


def test_pick_follows_the_preset(monkeypatch):
    monkeypatch.setenv("BLTLIB_SCALE", "gpu")
    assert config.pick(ci=1, laptop=2, gpu=3) == 3


def test_seeding_makes_torch_reproducible():
    g = config.seed_everything(7)
    a = torch.randn(3, generator=g), torch.randn(3)
    g = config.seed_everything(7)
    b = torch.randn(3, generator=g), torch.randn(3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(TypeError):
        config.seed_everything("7")


def test_device_without_cuda_refuses_cuda(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert config.get_device().type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        config.get_device("cuda")


def test_describe_names_the_preset(monkeypatch):
    monkeypatch.setenv("BLTLIB_SCALE", "ci")
    assert "BLTLIB_SCALE preset: ci" in config.describe()
