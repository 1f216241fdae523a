"""A tiny model family for the experiments machinery's tests: the machinery, not the models,
is under test. Importing this module registers it as "test-flat"."""

import torch
from torch import nn

from nerv_lessons import experiments
from nerv_lessons.experiments import Setup


class Flat(nn.Module):
    """One learned frame for every input: a model that can only learn the mean frame."""

    def __init__(self, height, width):
        super().__init__()
        self.frame = nn.Parameter(torch.rand(3, height, width))

    def forward(self, t):
        return self.frame.expand(len(t), -1, -1, -1)


def build_flat(video, budget, bias=0.0):
    model = Flat(*video.shape[-2:])
    with torch.no_grad():
        model.frame.add_(bias)
    return Setup(model, experiments.frame_times, model.frame.numel())


experiments.register_model("test-flat", build_flat)
