"""Power-law fits of power against state size, with confidence intervals.

The published claim (SPEC section 5): the recurrent core costs power linearly in the
state size ``d`` (one cell per state), the feedforward mirrors quadratically (``d x d``
matrices). We fit ``log P = log P_1 + k log d`` by ordinary least squares and give two
intervals for the exponent ``k``:

- the OLS standard error with a Student-t quantile (``n - 2`` degrees of freedom), on
  the per-``d`` means;
- a bootstrap over models and clips: resample both with replacement, refit, take the
  percentile interval (it carries the spread between models and clips, which the
  OLS interval on means does not).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Real

from bmru_jax.errors import InputError, require

# Sizes and powers arrive as NumPy or JAX arrays.
Sizes = Real[np.ndarray, " n"] | Real[Array, " n"]
Powers = Float[np.ndarray, " n"] | Float[Array, " n"]


@dataclasses.dataclass(frozen=True)
class PowerLawFit:
    """``P = prefactor * d ** exponent`` fitted in log-log space.

    Attributes:
        exponent: fitted ``k``.
        prefactor: power at ``d = 1``, in the unit of the data.
        stderr: OLS standard error of ``k``.
        ci: two-sided confidence interval of ``k`` (OLS, Student t).
        confidence: the interval's level.
    """

    exponent: float
    prefactor: float
    stderr: float
    ci: tuple[float, float]
    confidence: float


def fit_power_law(
    dims: Sizes, power: Powers, *, confidence: float = 0.95
) -> PowerLawFit:
    """OLS fit of ``log P = log P_1 + k log d`` with a Student-t interval on ``k``.

    Args:
        dims: state sizes (positive), ``(n,)``, ``n >= 3``.
        power: power at each size (positive, any unit), ``(n,)``.
        confidence: level of the interval, in (0, 1).

    Returns:
        A :class:`PowerLawFit`.

    Example:
        >>> fit = fit_power_law(np.array([4, 8, 16]), 3.0 * np.array([4, 8, 16]) ** 2)
        >>> round(fit.exponent, 6), round(fit.prefactor, 6)
        (2.0, 3.0)
    """
    x, y = _log_points(dims, power)
    require(0 < confidence < 1, f"confidence: must be in (0, 1), got {confidence!r}")
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    dof = len(x) - 2
    sxx = np.sum((x - x.mean()) ** 2)
    stderr = math.sqrt(np.sum(residual**2) / dof / sxx) if dof > 0 else math.inf
    half = student_t_quantile(0.5 + confidence / 2, dof) * stderr
    return PowerLawFit(
        exponent=float(slope),
        prefactor=float(math.exp(intercept)),
        stderr=float(stderr),
        ci=(float(slope - half), float(slope + half)),
        confidence=float(confidence),
    )


def _log_points(dims, power) -> tuple[np.ndarray, np.ndarray]:
    dims = np.asarray(dims, dtype=np.float64)
    power = np.asarray(power, dtype=np.float64)
    if dims.ndim != 1 or dims.shape != power.shape or len(dims) < 3:
        raise InputError(
            f"dims, power: need two equal 1-D arrays of at least 3 points, got "
            f"{dims.shape} and {power.shape}"
        )
    require(np.all(dims > 0), "dims: must be positive")
    require(np.all(power > 0), "power: must be positive to take its logarithm")
    require(len(np.unique(dims)) >= 2, "dims: need at least two distinct sizes")
    return np.log(dims), np.log(power)


def student_t_quantile(probability: float, dof: int) -> float:
    """Quantile of Student's t with ``dof`` degrees of freedom (``probability > 0.5``).

    Bisection on the CDF ``1 - I_{dof/(dof+t^2)}(dof/2, 1/2) / 2``.

    Example:
        >>> round(student_t_quantile(0.975, 6), 3)
        2.447
    """
    if dof <= 0:
        return math.inf
    target = 2.0 * (1.0 - probability)
    low, high = 0.0, 1e3
    for _ in range(80):
        mid = 0.5 * (low + high)
        tail = float(jax.scipy.special.betainc(dof / 2, 0.5, dof / (dof + mid * mid)))
        low, high = (mid, high) if tail > target else (low, mid)
    return 0.5 * (low + high)


def bootstrap_exponent(
    dims: Sizes,
    samples: Float[np.ndarray, "n models clips"] | Float[Array, "n models clips"],
    *,
    key: PRNGKeyArray,
    resamples: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the fitted exponent, resampling models and clips.

    Each replicate draws models and clips with replacement (the same draw at every
    ``d``, so a clip's difficulty stays paired across sizes), averages the power per
    ``d`` and refits the slope.

    Args:
        dims: state sizes, ``(n,)``.
        samples: power of each model on each clip at each size, ``(n, models, clips)``.
        key: key of the resampling.
        resamples: number of bootstrap replicates.
        confidence: level of the interval.

    Returns:
        ``(low, high)`` of the exponent.
    """
    x, _ = _log_points(dims, np.ones(len(dims)))
    samples = jnp.asarray(samples, jnp.float32)
    require(
        samples.ndim == 3,
        f"samples: expected shape (n, models, clips), got {samples.shape}",
    )
    require(bool(jnp.all(samples > 0)), "samples: must be positive")
    _, models, clips = samples.shape
    x = jnp.asarray(x - x.mean(), jnp.float32)

    def slope(replicate_key):
        k_model, k_clip = jax.random.split(replicate_key)
        pick_model = jax.random.randint(k_model, (models,), 0, models)
        pick_clip = jax.random.randint(k_clip, (clips,), 0, clips)
        mean = samples[:, pick_model][:, :, pick_clip].mean(axis=(1, 2))
        y = jnp.log(mean)
        return jnp.sum(x * (y - y.mean())) / jnp.sum(x * x)

    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(resamples))
    slopes = np.asarray(jax.jit(jax.vmap(slope))(keys))
    tail = 50.0 * (1.0 - confidence)
    return float(np.percentile(slopes, tail)), float(np.percentile(slopes, 100 - tail))
