"""Wrong answers for lesson 09's exercises (tests/test_exercises.py feeds them to the checks)."""

import torch


def _holes_count(pred, target, known):
    """HNeRV's code: the holes as zeros in a mean over every pixel."""
    return ((pred - target) ** 2 * known).mean()


def _pixels_not_values(pred, target, known):
    """Divides by the known pixels, not the known values (3 a pixel)."""
    return ((pred - target) ** 2 * known).sum() / known.sum()


def _no_mask(pred, target, known):
    return ((pred - target) ** 2).mean()


def _nearest(order):
    """A fill from time that looks at the frames in `order(t, distance)`."""

    def fill(video, known):
        visible = known > 0
        filled, have = video * visible, visible.clone()
        for t in range(len(video)):
            for distance in range(1, len(video)):
                for source in order(t, distance):
                    if 0 <= source < len(video):
                        take = ~have[t] & visible[source]
                        filled[t] = torch.where(take, video[source], filled[t])
                        have[t] |= take
        return filled, have

    return fill


def _copies_hidden_values(video, known):
    """Takes the value from the nearest frame, whether that frame shows the pixel or not."""
    have = known > 0
    filled = video.clone()  # the hidden values are there: copying them is cheating
    return filled, torch.ones_like(have) if len(video) > 1 else have


def _chains_fills(video, known):
    """Copies from frames that got the pixel by filling: their video value is hidden too."""
    visible = known > 0
    filled, have = video * visible, visible.clone()
    for t in range(len(video)):
        for distance in range(1, len(video)):
            for source in (t - distance, t + distance):
                if 0 <= source < len(video):
                    take = ~have[t] & have[source]
                    filled[t] = torch.where(take, video[source], filled[t])
                    have[t] |= take
    return filled, have


def _first_shown(video, known):
    """The first frame of the clip that shows the pixel, not the nearest."""
    visible = known > 0
    filled, have = video * visible, visible.clone()
    for t in range(len(video)):
        for source in range(len(video)):
            take = ~have[t] & visible[source]
            filled[t] = torch.where(take, video[source], filled[t])
            have[t] |= take
    return filled, have


ANSWERS = {
    "masked_mse": [
        {"masked_mse": _holes_count},
        {"masked_mse": _pixels_not_values},
        {"masked_mse": _no_mask},
        {"masked_mse": lambda pred, target, known: _no_mask(pred, target, known).item()},
    ],
    "fill_from_nearest_frame": [
        {"fill_from_nearest_frame": _nearest(lambda t, d: (t + d, t - d))},  # later on ties
        {"fill_from_nearest_frame": _nearest(lambda t, d: (t - d,))},  # earlier frames only
        {"fill_from_nearest_frame": _nearest(lambda t, d: (t + d,))},  # later frames only
        {"fill_from_nearest_frame": _copies_hidden_values},
        {"fill_from_nearest_frame": _chains_fills},
        {"fill_from_nearest_frame": _first_shown},
    ],
    "prediction": [
        {"prediction": "higher"},
        {"prediction": "about the same"},
        {"prediction": "worse"},  # not one of the choices
    ],
}


def context():
    """The lesson's measurement before the prediction (quick scale, seed 0, on a CPU)."""
    return {"hole_db_masked": 15.27, "hole_db_unmasked": 7.03, "hole_db_black": 6.41}
