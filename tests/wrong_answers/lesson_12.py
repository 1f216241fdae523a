"""Wrong answers for lesson 12's exercises (tests/test_exercises.py feeds them to the checks)."""

import math

import torch


def _density(q, mu, sigma):
    """Charges -log2 of the density at q, not of the bin's mass (right only by luck)."""
    z = (q - mu) / sigma
    return -torch.log2(torch.exp(-0.5 * z**2) / (sigma * math.sqrt(2 * math.pi)))


def _natural_log(q, mu, sigma):
    """Counts nats, not bits."""
    upper = torch.special.ndtr((q + 0.5 - mu) / sigma)
    lower = torch.special.ndtr((q - 0.5 - mu) / sigma)
    return -torch.log(upper - lower)


def _bin_from_q(q, mu, sigma):
    """Takes the bin [q, q + 1] instead of centring it on q."""
    upper = torch.special.ndtr((q + 1 - mu) / sigma)
    lower = torch.special.ndtr((q - mu) / sigma)
    return -torch.log2(upper - lower)


def _sigma_forgotten(q, mu, sigma):
    """Measures the bin around mu in units of 1, not of sigma."""
    upper = torch.special.ndtr(q + 0.5 - mu)
    lower = torch.special.ndtr(q - 0.5 - mu)
    return -torch.log2(upper - lower)


def _summed(q, mu, sigma):
    """Returns the total, not one cost per symbol."""
    upper = torch.special.ndtr((q + 0.5 - mu) / sigma)
    lower = torch.special.ndtr((q - 0.5 - mu) / sigma)
    return -torch.log2(upper - lower).sum()


def _transposed(delta_out, delta_in, shape):
    """Pairs delta_in with the rows: (B, A), the wrong way round."""
    grid = delta_in[:, None] * delta_out[None, :]
    return grid.reshape(shape[1], shape[0], *[1] * (len(shape) - 2))


def _sum_of_steps(delta_out, delta_in, shape):
    """Adds the two steps instead of multiplying them."""
    grid = delta_out[:, None] + delta_in[None, :]
    return grid.reshape(shape[0], shape[1], *[1] * (len(shape) - 2))


def _no_trailing_dims(delta_out, delta_in, shape):
    """Leaves the grid (A, B): it does not broadcast against a kernel."""
    return delta_out[:, None] * delta_in[None, :]


def _rows_only(delta_out, delta_in, shape):
    """Uses delta_out alone: one step per output channel."""
    return delta_out.reshape(shape[0], 1, *[1] * (len(shape) - 2)).expand(
        shape[0], shape[1], *[1] * (len(shape) - 2)
    )


ANSWERS = {
    "bin_bits": [
        {"bin_bits": _density},
        {"bin_bits": _natural_log},
        {"bin_bits": _bin_from_q},
        {"bin_bits": _sigma_forgotten},
        {"bin_bits": _summed},
    ],
    "factorised_grid": [
        {"factorised_grid": _transposed},
        {"factorised_grid": _sum_of_steps},
        {"factorised_grid": _no_trailing_dims},
        {"factorised_grid": _rows_only},
    ],
}
