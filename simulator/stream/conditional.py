"""Draws conditioned on what can touch a legitimate post, for thinning.

The closed forms and conditional samplers :mod:`simulator.stream.thinning`
draws touchable posts with (its docstring says what each is for): the share of
posts reported ``n`` times, reach draws conditioned on being reported (and the
report's cumulative intensity) or not, and area cards' uniforms conditioned on
some card's scoring high.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

Proposal = Callable[[int], tuple[np.ndarray, np.ndarray]]

Z_STEP = 0.004
"""Grid step (standard normal units) of the quadrature of the report probability."""
Z_TAIL = 12.0
"""The quadrature runs from ``-Z_TAIL`` to ``n * sigma + Z_TAIL`` (beyond: ``phi`` < 1e-31)."""
MAX_BATCH = 1 << 20
"""Largest batch of proposals a rejection sampler draws at once (bounds its memory)."""


def reported_share(n: int, km: float, sigma: float) -> float:
    """P(a post is ever reported ``n`` times): ``E[P(n, km * exp(sigma * Z))]``.

    ``km`` is the lifetime report intensity at median reach (reports per view
    times the median reach), ``Z`` standard normal.
    """
    if n <= 0 or km <= 0:
        return 0.0
    if sigma == 0:
        return float(special.gammainc(n, km))
    z = np.arange(-Z_TAIL, n * sigma + Z_TAIL + Z_STEP, Z_STEP)
    integrand = np.exp(-0.5 * z * z) * special.gammainc(n, km * np.exp(sigma * z))
    return float(np.trapezoid(integrand, z) / math.sqrt(2.0 * math.pi))


def _lower_gamma(n: int, x: np.ndarray) -> np.ndarray:
    return -np.expm1(-x) if n == 1 else special.gammainc(n, x)


def _truncated_normal(rng: np.random.Generator, size: int, bound: float, above: bool) -> np.ndarray:
    """Standard normals conditioned to lie above (or below) ``bound``, by inversion
    in log space (exact far into either tail)."""
    logu = np.log(rng.random(size))
    if above:
        return np.asarray(-special.ndtri_exp(logu + special.log_ndtr(-bound)))
    return np.asarray(special.ndtri_exp(logu + special.log_ndtr(bound)))


def _rejection(
    rng: np.random.Generator,
    size: int,
    rate: float,
    propose: Proposal,
) -> np.ndarray:
    """``size`` accepted draws; ``propose(b)`` returns ``b`` proposals and their
    acceptance probabilities; ``rate`` (a guess of the acceptance) sizes batches."""
    kept: list[np.ndarray] = [np.empty(0)]
    have = 0
    while have < size:
        batch = min(MAX_BATCH, int((size - have) / max(rate, 1e-3) * 1.1) + 64)
        z, accept = propose(batch)
        z = z[rng.random(batch) < accept]
        kept.append(z)
        have += len(z)
    return np.concatenate(kept)[:size]


def draw_reported(
    rng: np.random.Generator, size: int, n: int, km: float, sigma: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(z, g)`` for ``size`` posts conditioned on being reported ``n`` times.

    ``z`` is the post's reach draw (``reach = median * exp(sigma * z)``) and
    ``g`` the cumulative report intensity of its ``n``-th report, Gamma(n, 1)
    truncated below the post's lifetime intensity ``x = km * exp(sigma * z)``.
    """
    if size == 0:
        return np.empty(0), np.empty(0)
    if sigma == 0:
        z = rng.standard_normal(size)  # reach does not vary: every post alike
    else:
        ns = n * sigma
        log_scale = n * math.log(km) - math.lgamma(n + 1.0)  # x^n/n! = exp(log_scale + ns z)
        cut = -log_scale / ns  # where the envelope's two pieces meet
        log_low = log_scale + 0.5 * ns * ns + float(special.log_ndtr(cut - ns))
        log_high = float(special.log_ndtr(-cut))
        low_share = 1.0 / (1.0 + math.exp(min(log_high - log_low, 700.0)))

        def propose(b: int) -> tuple[np.ndarray, np.ndarray]:
            low = rng.random(b) < low_share
            z = np.empty(b)
            z[low] = ns + _truncated_normal(rng, int(low.sum()), cut - ns, above=False)
            z[~low] = _truncated_normal(rng, int((~low).sum()), cut, above=True)
            log_env = np.minimum(0.0, log_scale + ns * z)
            p = _lower_gamma(n, km * np.exp(sigma * z))
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                ratio = np.exp(np.log(p) - log_env)
            # P(n, x) / (x^n / n!) -> 1 as x -> 0, where p underflows
            return z, np.where(p > 0, np.minimum(ratio, 1.0), 1.0)

        z = _rejection(rng, size, 0.5, propose)
    x = km * np.exp(sigma * z)
    u = rng.random(size)
    p = _lower_gamma(n, x)
    if n == 1:  # a truncated exponential, in closed form
        g = -np.log1p(u * np.expm1(-x))
    else:
        g = np.where(
            p > 1e-250,
            special.gammaincinv(n, u * p),
            x * u ** (1.0 / n),  # the truncated gamma's limit for tiny x
        )
    return z, np.minimum(g, np.nextafter(x, 0.0))


def draw_unreported(
    rng: np.random.Generator, size: int, n: int, km: float, sigma: float, share: float
) -> np.ndarray:
    """Reach draws ``z`` for ``size`` posts conditioned on never being reported
    ``n`` times (``share``: the probability that they are)."""
    if n <= 0 or km <= 0 or sigma == 0:
        return rng.standard_normal(size)  # the condition does not depend on z

    def propose(b: int) -> tuple[np.ndarray, np.ndarray]:
        z = rng.standard_normal(b)
        x = km * np.exp(sigma * z)
        return z, (special.gammaincc(n, x) if n > 1 else np.exp(-x))

    return _rejection(rng, size, 1.0 - share, propose)


def draw_some_above(rng: np.random.Generator, size: int, q: np.ndarray) -> np.ndarray:
    """Uniforms, shape ``(size, len(q))``, conditioned on at least one ``u[k]`` lying in
    its top ``q[k]`` (independent otherwise): the first such ``k`` is drawn with
    probability ``prod(1 - q[:k]) q[k]`` (normalised), those before it below their
    cut, it above, those after it unconditioned."""
    if size == 0:
        return np.empty((0, len(q)))
    first_p = np.cumprod(np.r_[1.0, 1.0 - q[:-1]]) * q
    first = rng.choice(len(q), size=size, p=first_p / first_p.sum())
    u = rng.random((size, len(q)))
    k = np.arange(len(q))[None, :]
    out = np.where(k < first[:, None], (1.0 - q) * u, u)
    return np.where(k == first[:, None], 1.0 - q * u, out)
