import pytest
import torch

from nerv_lessons.data import PAPER_CROP
from nerv_lessons.scales import SCALE_VARIABLE, SCALES, pick_device, pick_scale, start_lesson


def test_no_cuda_means_quick(monkeypatch):
    monkeypatch.delenv(SCALE_VARIABLE, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_scale().name == "quick"
    assert pick_device().type == "cpu"


def test_cuda_means_lesson(monkeypatch):
    monkeypatch.delenv(SCALE_VARIABLE, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_scale().name == "lesson"


def test_environment_variable_overrides_and_argument_wins(monkeypatch):
    monkeypatch.setenv(SCALE_VARIABLE, "Paper")
    assert pick_scale().name == "paper"
    assert pick_scale("quick").name == "quick"


def test_unknown_scale(monkeypatch):
    monkeypatch.setenv(SCALE_VARIABLE, "huge")
    with pytest.raises(
        ValueError, match="unknown scale 'huge': choose one of quick, cpu, lesson, paper"
    ):
        pick_scale()


@pytest.mark.parametrize("name", list(SCALES))
def test_every_scale_is_the_papers_crop_shrunk_evenly(name):
    scale = SCALES[name]
    factor = PAPER_CROP[0] // scale.height
    assert (scale.height * factor, scale.width * factor) == PAPER_CROP
    # the 2x4 embedding grid of HNeRV at 640x1280 exists at every scale, with a factor 5 stride
    assert scale.height % (2 * 5) == 0 and scale.width % (4 * 5) == 0


def test_start_lesson_prints_scale_device_and_torch(capsys, monkeypatch):
    monkeypatch.setenv(SCALE_VARIABLE, "quick")
    scale, device = start_lesson(seed=3)
    out = capsys.readouterr().out
    assert "scale:  quick (80x160" in out
    assert f"device: {device}" in out
    assert f"torch {torch.__version__}" in out
    first = torch.rand(1)
    start_lesson(seed=3)
    assert torch.equal(first, torch.rand(1))  # seeded: the same numbers again
