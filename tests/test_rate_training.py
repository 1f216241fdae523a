"""Lesson 12's rate training: R + lambda D fine-tuning moves the steps and lowers the rate,
the control trains without quantizing, the cache gives back what it stored, and bad recipes
are refused."""

import pytest
import torch

from nerv_lessons import entropy
from nerv_lessons.hnerv import HNeRV, HNeRVConfig
from nerv_lessons.rate_training import RateRecipe, fine_tune, fixed_steps, seed_points, tuned_cached

TINY_HNERV = dict(
    height=80, width=160, strides=(5, 2, 2, 2), encoder_width=8, embed_dim=4, fc_dim=12, min_width=4
)
SHORT = RateRecipe(epochs=3, batch=2)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return HNeRV(HNeRVConfig(**TINY_HNERV)).eval()


def test_rate_training_moves_the_steps_and_lowers_the_rate(model, bunny):
    video = bunny[:4]
    before = {name: value.clone() for name, value in model.state_dict().items()}
    low = fine_tune(model, video, lam=1.0, recipe=RateRecipe(epochs=6, step_lr=5e-2))
    start = entropy.LearnedSteps(entropy.stored_tensors(low.model, low.embeddings))
    moved = [
        not torch.equal(low.steps.step(name).log_steps, start.step(name).log_steps)
        for name in low.steps.names
    ]
    assert all(moved)
    assert low.history["rate_bpp"][-1] < low.history["rate_bpp"][0]
    for name, value in model.state_dict().items():  # the model given is left as it was
        assert torch.equal(value, before[name])
    assert not torch.equal(low.model.decoder.head.weight, model.decoder.head.weight)


def test_a_larger_lambda_keeps_more_bits(model, bunny):
    video = bunny[:4]
    rates = [fine_tune(model, video, lam, SHORT).history["rate_bpp"][-1] for lam in (1.0, 1e5)]
    assert rates[0] < rates[1]


def test_the_control_does_not_quantize_or_train_steps(model, bunny):
    control = fine_tune(model, bunny[:4], lam=None, recipe=SHORT)
    with torch.no_grad():
        embeddings = model.encode(bunny[:4])
    start = entropy.LearnedSteps(entropy.stored_tensors(model, embeddings))  # before tuning
    assert torch.equal(control.steps.steps[0].log_steps, start.steps[0].log_steps)
    assert control.history["rate_bpp"] == [0.0] * SHORT.epochs


def test_the_cache_gives_back_the_tuned_model(model, bunny, tmp_path, monkeypatch):
    monkeypatch.setenv("NERV_LESSONS_CACHE", str(tmp_path))
    first = tuned_cached(model, bunny[:4], 10.0, SHORT, seed=1)
    assert len(list((tmp_path / "rate").glob("*.pt"))) == 1
    again = tuned_cached(model, bunny[:4], 10.0, SHORT, seed=1)
    for name, value in first.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[name])
    assert torch.equal(first.embeddings, again.embeddings)
    files = [entropy.encode_model(t.model, t.steps, t.embeddings) for t in (first, again)]
    assert files[0] == files[1]


def test_fixed_steps_sit_on_lesson_08s_grids(model, bunny):
    with torch.no_grad():
        embeddings = model.encode(bunny[:2])
    steps = fixed_steps(model, embeddings, weight_bits=4)
    weight = model.decoder.head.weight
    head = [n for n in steps.names if n.endswith("head.weight")][0]
    assert steps.step(head).steps().item() == pytest.approx(weight.abs().max().item() / 7)
    assert steps.step("embeddings").steps().item() == pytest.approx(
        embeddings.abs().max().item() / 31
    )


def test_points_are_real_files(model, bunny, tmp_path, monkeypatch):
    monkeypatch.setenv("NERV_LESSONS_CACHE", str(tmp_path))
    points = seed_points(model, bunny[:2], 0, SHORT, lambdas=(10.0,), bits=(8,))
    assert sorted(p["model"] for p in points) == [
        "ans",
        "control",
        "control_ans",
        "huffman",
        "nvrc",
    ]
    assert all(p["bytes"] > 0 and p["bpp"] == 8 * p["bytes"] / (2 * 80 * 160) for p in points)


@pytest.mark.parametrize(
    "changes", [dict(epochs=0), dict(batch=0), dict(lr=0.0), dict(step_lr=-1.0), dict(mode="x")]
)
def test_bad_recipes_are_refused(changes):
    with pytest.raises(ValueError):
        RateRecipe(**changes)


def test_the_command_line_refuses_other_experiments(capsys):
    from nerv_lessons import cli

    assert cli.main(["rate", "hnerv-vs-nerv", "--scale", "quick"]) == 2
    assert "nvrc-rate-distortion" in capsys.readouterr().err


@pytest.mark.slow  # a base HNeRV on 2 frames, six fine-tunings, 29 files: about 20 s
def test_the_command_line_writes_the_rate_points(tmp_path, monkeypatch, capsys):
    from nerv_lessons import cli
    from nerv_lessons.rate_distortion import load_points

    monkeypatch.setenv("NERV_LESSONS_CACHE", str(tmp_path / "cache"))
    argv = ["rate", "nvrc-rate-distortion", "--scale", "quick", "--frames", "2"]
    argv += ["--frame-step", "1", "--seeds", "1", "--device", "cpu", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    points = load_points(tmp_path / "nvrc-rate-distortion-points.csv")
    methods = {p["model"] for p in points}
    assert methods == {"huffman", "ans", "control", "control_ans", "nvrc"}
    assert all(p["bpp"] > 0 and p["psnr"] > 0 for p in points)
    assert "saved" in capsys.readouterr().out
