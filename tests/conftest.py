import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # unit tests draw figures without a screen


@pytest.fixture(scope="session")
def bunny():
    """The first 8 frames of the real Bunny clip at 80x160 (the quick scale's size)."""
    from nerv_lessons.data import bunny_path, load_video

    return load_video(bunny_path(), frames=8, size=(80, 160))


@pytest.fixture
def quantized(bunny):
    """Bunny frames on the 8-bit grid, so that lossless files reproduce them exactly."""
    return torch.round(bunny * 255) / 255


@pytest.fixture
def clip():
    """4 random frames of 40x80 (seeded): for the experiments machinery, not for pictures."""
    torch.manual_seed(0)
    return torch.rand(4, 3, 40, 80)


@pytest.fixture
def scratch_cache(tmp_path, monkeypatch):
    """A training cache of the test's own, so no test reads or fills the course's."""
    from nerv_lessons import experiments

    monkeypatch.setenv(experiments.CACHE_VARIABLE, str(tmp_path / "cache"))
