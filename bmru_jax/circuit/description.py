"""From a trained model to a circuit description: one learned parameter, one element.

A :class:`CircuitDescription` is what a designer builds: per cell three bias currents,
per weight a current mirror (output width against ``W_ref`` and a polarity), per bias a
current source. It is plain frozen dataclasses of numbers, strings and tuples, so it
prints, compares and round-trips through JSON (:meth:`CircuitDescription.to_json`).

The mapping, in physical units (``unit_current_nA`` nA per model unit, default 1 nA;
:func:`unit_current_for_nominal_cell` gives the unit a designer would pick):

    I_gain   = (alpha  - 6 pA)  / 1.017      alpha  = |p3|
    I_thresh = (beta2  + 11 pA) / 0.983      beta2  = |p1| + |p2|
    I_width  = (delta  + 12 pA) / 0.986      delta  = |p2|
    mirror   : gain |w|, width W(|w|) from the measured gain-width curve,
               polarity "source" (w > 0), "sink" (w < 0), "none" (w = 0: no device)
    bias b   : a constant current |b| unit, sourcing or sinking

Realisable mirror gains run from 0.14 (0.5 um) to 2.8 (15 um) with the SPEC's
curve (per polarity, from ``DeviceParameters``). A weight outside is
**reported, never silently clipped**: it appears in ``out_of_range`` and in a warning.
What the die then uses is the setting ``out_of_range``:

- ``"keep"`` (default): the die realises the requested gain (its width is extrapolated
  along the measured curve and may not be buildable as one device), so simulation
  matches software and the report tells the designer what to fix;
- ``"clip"``: the die realises the nearest buildable gain: ``2.8`` above the range; for
  small weights ``0.14`` or no mirror at all, whichever is nearer.

Small weights (0 < |w| < 0.14) are reported like large ones; a designer may realise
them with a longer output device or a wider reference, which this mapping does not do.
A cell parameter that would need a negative bias current (``alpha < 6 pA``) is also
reported (matrix ``"I_gain"`` etc.) and its bias current set to 0.
"""

import dataclasses
import json
import math
import typing
import warnings

import numpy as np

from bmru_jax.circuit.devices import (
    NOMINAL_CELL_BETA2_PA,
    DeviceParameters,
    bias_current_pA,
    mirror_width_from_gain,
)
from bmru_jax.errors import InputError, require
from bmru_jax.models import HardwareBackbone

_POLICIES = ("keep", "clip")
_POLARITIES = ("source", "sink", "none")


@dataclasses.dataclass(frozen=True)
class CircuitSettings:
    """How model units become circuit elements.

    Attributes:
        unit_current_nA: current of one model unit, nA (SPEC: 1 nA;
            :func:`unit_current_for_nominal_cell` gives the unit that puts the
            model's median cell at the nominal cell).
        out_of_range: ``"keep"`` or ``"clip"``: what the die does with a weight outside
            the realisable mirror range (it is reported either way).
        device: measured and assumed device constants.

    Example:
        >>> CircuitSettings().unit_current_nA
        1.0
    """

    unit_current_nA: float = 1.0
    out_of_range: str = "keep"
    device: DeviceParameters = DeviceParameters()

    def __post_init__(self):
        unit = self.unit_current_nA
        require(
            isinstance(unit, int | float) and math.isfinite(unit) and unit > 0,
            f"unit_current_nA: must be a positive finite number, got {unit!r}",
        )
        require(
            self.out_of_range in _POLICIES,
            f"out_of_range: must be one of {_POLICIES}, got {self.out_of_range!r}",
        )


@dataclasses.dataclass(frozen=True)
class MirrorBank:
    """The current mirrors of one weight matrix, row = output, column = input.

    Attributes:
        name: the model parameter (``"W_c"``, ``"W_p"``, ``"W_in"``, ``"W_fc"``).
        gain: realised gain magnitude of each mirror (``W_out / W_ref`` in effect).
        width_um: output-device width, um (0 where there is no mirror).
        polarity: ``"source"``, ``"sink"`` or ``"none"`` per mirror.
    """

    name: str
    gain: tuple[tuple[float, ...], ...]
    width_um: tuple[tuple[float, ...], ...]
    polarity: tuple[tuple[str, ...], ...]

    def signed_gain(self) -> np.ndarray:
        """Gains with the polarity as sign, float64 ``(rows, columns)``."""
        sign = np.vectorize({"source": 1.0, "sink": -1.0, "none": 0.0}.get)
        return np.asarray(self.gain, float) * sign(np.asarray(self.polarity))


@dataclasses.dataclass(frozen=True)
class BiasSources:
    """Constant current sources, one per bias entry.

    Attributes:
        name: the model parameter (``"b_c"``, ...).
        current_pA: magnitude of each source, pA.
        polarity: ``"source"``, ``"sink"`` or ``"none"``.
    """

    name: str
    current_pA: tuple[float, ...]
    polarity: tuple[str, ...]

    def signed_nA(self) -> np.ndarray:
        """Signed currents in nA, float64."""
        sign = np.array(
            [{"source": 1.0, "sink": -1.0, "none": 0.0}[p] for p in self.polarity]
        )
        return np.asarray(self.current_pA, float) * sign * 1e-3


@dataclasses.dataclass(frozen=True)
class CellBiases:
    """The three bias currents and the initial state of each cell of a layer.

    Attributes:
        I_gain_pA: sets the output level ``alpha``.
        I_thresh_pA: sets the upper (set) threshold ``beta2``.
        I_width_pA: sets the hysteresis width ``delta``.
        initial_state: power-up state of each cell, 0 or 1.
    """

    I_gain_pA: tuple[float, ...]
    I_thresh_pA: tuple[float, ...]
    I_width_pA: tuple[float, ...]
    initial_state: tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class LayerDescription:
    """One BMRU layer: candidate mirrors and bias, cells, post-projection."""

    W_c: MirrorBank
    b_c: BiasSources
    cells: CellBiases
    W_p: MirrorBank
    b_p: BiasSources


@dataclasses.dataclass(frozen=True)
class OutOfRange:
    """One element the circuit cannot realise as asked.

    Attributes:
        layer: ``"input"``, ``"layer1"``, ..., ``"readout"``.
        matrix: parameter name (``"W_c"``, ``"I_gain"``, ...).
        index: position in that parameter, ``(row, column)`` or ``(cell,)``.
        value: requested magnitude (gain, or parameter in pA for a cell).
        limit: the nearest realisable value.
    """

    layer: str
    matrix: str
    index: tuple[int, ...]
    value: float
    limit: float


@dataclasses.dataclass(frozen=True)
class CircuitDescription:
    """The whole network as circuit elements (see the module docstring).

    Example:
        >>> import jax
        >>> import warnings
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> with warnings.catch_warnings():
        ...     # random init leaves small weights below the mirror range; the
        ...     # round trip keeps that report too, in desc.out_of_range
        ...     warnings.simplefilter("ignore")
        ...     desc = describe(model)
        >>> CircuitDescription.from_json(desc.to_json()) == desc
        True
    """

    settings: CircuitSettings
    W_in: MirrorBank
    b_in: BiasSources
    layers: tuple[LayerDescription, ...]
    W_fc: MirrorBank
    b_fc: BiasSources
    out_of_range: tuple[OutOfRange, ...]

    @property
    def width(self) -> int:
        """Model width ``d``."""
        return len(self.W_in.gain)

    @property
    def n_features(self) -> int:
        """Input features per frame."""
        return len(self.W_in.gain[0])

    @property
    def n_classes(self) -> int:
        """Output classes."""
        return len(self.W_fc.gain)

    def to_dict(self) -> dict:
        """Nested dicts and lists of numbers and strings (JSON-ready)."""
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CircuitDescription":
        """Rebuild from :meth:`to_dict`; bad entries raise :class:`InputError`."""
        desc = _from_plain(cls, data, "description")
        _check_description(desc)
        return desc

    def to_json(self, **kwargs) -> str:
        """JSON text; keyword arguments go to :func:`json.dumps`."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text: str) -> "CircuitDescription":
        """Rebuild from :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"description: not valid JSON ({error.msg})") from None
        return cls.from_dict(data)


def unit_current_for_nominal_cell(
    model: HardwareBackbone, *, beta2_pA: float = NOMINAL_CELL_BETA2_PA
) -> float:
    """The unit current that puts the model's median cell at the nominal cell.

        unit_current_nA = beta2_pA / median(beta2) * 1e-3,    beta2 = |p1| + |p2|

    with the median over every cell of every layer (``layer.beta1 + layer.delta``).
    A designer picks the unit current so that the cells sit where the cell was
    characterised: its bias transfers and its ~4.9 nW static power were measured on the
    nominal cell (on at ``beta2_pA = 350 pA``, off at 150 pA, alpha 500 pA, SPEC
    section 3). An ideal network computes the same at any unit, and neither the
    relative temporal noise (shot-like ``2 q I`` over a bandwidth that grows with
    ``I``: sigma is proportional to the current) nor multiplicative mismatch depends on
    it; what does is everything absolute: the 3-7 pA leakage of a reset cell, the
    droop over the input range, the mirror gain's fall with current, and the power.

    Args:
        model: a :class:`bmru_jax.models.HardwareBackbone`.
        beta2_pA: on-threshold of the cell to map the median onto, pA (positive).

    Returns:
        nA per model unit, for :class:`CircuitSettings`.

    Raises:
        InputError: ``beta2_pA`` is not a positive finite number, or the model's median
            upper threshold is zero or not finite (``model``).

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> round(unit_current_for_nominal_cell(model), 3)  # initial beta2 = 0.5
        0.7
    """
    require(
        isinstance(model, HardwareBackbone),
        f"model: must be a HardwareBackbone, got {type(model).__name__}",
    )
    is_number = isinstance(beta2_pA, int | float) and not isinstance(beta2_pA, bool)
    require(
        is_number and math.isfinite(beta2_pA) and beta2_pA > 0,
        f"beta2_pA: must be a positive finite number, got {beta2_pA!r}",
    )
    beta2 = np.concatenate(
        [np.asarray(layer.beta1 + layer.delta, np.float64) for layer in model.layers]
    )
    median = float(np.median(beta2))
    require(
        math.isfinite(median) and median > 0,
        f"model: median upper threshold beta2 = |p1| + |p2| must be positive and "
        f"finite to set the unit current, got {median}",
    )
    return beta2_pA * 1e-3 / median


def resolve_unit_current_nA(model: HardwareBackbone, unit_current_nA) -> float:
    """``unit_current_nA`` as a number: itself, or the nominal-cell unit for ``"auto"``.

    Args:
        model: the model to map (used for ``"auto"`` only).
        unit_current_nA: a positive number (nA per model unit) or ``"auto"``
            (:func:`unit_current_for_nominal_cell`).

    Example:
        >>> import jax
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> auto = resolve_unit_current_nA(model, "auto")
        >>> resolve_unit_current_nA(model, 2.0), round(auto, 3)
        (2.0, 0.7)
    """
    if unit_current_nA == "auto":
        return unit_current_for_nominal_cell(model)
    is_number = isinstance(unit_current_nA, int | float) and not isinstance(
        unit_current_nA, bool
    )
    require(
        is_number and math.isfinite(unit_current_nA) and unit_current_nA > 0,
        f"unit_current_nA: must be a positive finite number or 'auto', "
        f"got {unit_current_nA!r}",
    )
    return float(unit_current_nA)


def describe(
    model: HardwareBackbone, settings: CircuitSettings = CircuitSettings()
) -> CircuitDescription:
    """Map a trained hardware backbone onto circuit elements.

    Args:
        model: a :class:`bmru_jax.models.HardwareBackbone` (evaluated as a BMRU,
            ``eps = 0``).
        settings: unit current, out-of-range policy, device constants.

    Returns:
        The description; ``out_of_range`` lists every element outside what the
        circuit can realise, and a warning says how many there are.

    Example:
        >>> import jax
        >>> import warnings
        >>> model = HardwareBackbone(width=4, key=jax.random.key(0))
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     desc = describe(model)
        >>> len(desc.layers), desc.W_in.name
        (2, 'W_in')
        >>> len(caught), len(desc.out_of_range)  # random init: small weights
        (1, 34)
        >>> str(caught[0].message).startswith("34 weights outside")
        True
    """
    require(
        isinstance(model, HardwareBackbone),
        f"model: must be a HardwareBackbone, got {type(model).__name__}",
    )
    report: list[OutOfRange] = []
    layers = tuple(
        _describe_layer(layer, f"layer{i + 1}", settings, report)
        for i, layer in enumerate(model.layers)
    )
    desc = CircuitDescription(
        settings=settings,
        W_in=_mirror_bank("W_in", model.W_in, "input", settings, report),
        b_in=_bias_sources("b_in", model.b_in, settings),
        layers=layers,
        W_fc=_mirror_bank("W_fc", model.W_fc, "readout", settings, report),
        b_fc=_bias_sources("b_fc", model.b_fc, settings),
        out_of_range=tuple(report),
    )
    if report:
        warnings.warn(_summary(report, settings), stacklevel=2)
    return desc


def _describe_layer(layer, name, settings, report) -> LayerDescription:
    return LayerDescription(
        W_c=_mirror_bank("W_c", layer.W_c, name, settings, report),
        b_c=_bias_sources("b_c", layer.b_c, settings),
        cells=_cell_biases(layer, name, settings, report),
        W_p=_mirror_bank("W_p", layer.W_p, name, settings, report),
        b_p=_bias_sources("b_p", layer.b_p, settings),
    )


def _mirror_bank(name, weights, layer, settings, report) -> MirrorBank:
    device = settings.device
    w = np.asarray(weights, dtype=np.float64)
    magnitude, sink = np.abs(w), w < 0
    low, high = (np.asarray(limit) for limit in device.gain_limits(sink))
    too_small = (magnitude > 0) & (magnitude < low)
    too_large = magnitude > high
    for index in zip(*np.nonzero(too_small | too_large)):
        limit = low[index] if too_small[index] else high[index]
        at = tuple(int(i) for i in index)
        report.append(
            OutOfRange(layer, name, at, float(magnitude[index]), float(limit))
        )
    gain = magnitude
    if settings.out_of_range == "clip":
        small = np.where(magnitude < low / 2, 0.0, low)
        gain = np.where(too_large, high, np.where(too_small, small, magnitude))
    width = np.asarray(mirror_width_from_gain(gain, device, sink=sink), np.float64)
    width = np.where(gain > 0, width, 0.0)
    polarity = np.where(gain == 0, "none", np.where(sink, "sink", "source"))
    return MirrorBank(name, _nested(gain), _nested(width), _nested(polarity, str))


def _bias_sources(name, bias, settings) -> BiasSources:
    b = np.asarray(bias, dtype=np.float64)
    current_pA = np.abs(b) * settings.unit_current_nA * 1e3
    polarity = np.where(b > 0, "source", np.where(b < 0, "sink", "none"))
    return BiasSources(name, _nested(current_pA), _nested(polarity, str))


def _cell_biases(layer, name, settings, report) -> CellBiases:
    device = settings.device
    to_pA = settings.unit_current_nA * 1e3
    beta1 = np.abs(np.asarray(layer.p1, np.float64)) * to_pA
    delta = np.abs(np.asarray(layer.p2, np.float64)) * to_pA
    alpha = np.abs(np.asarray(layer.p3, np.float64)) * to_pA
    transfers = (
        ("I_gain", alpha, device.gain_slope, device.gain_offset_pA),
        ("I_thresh", beta1 + delta, device.thresh_slope, device.thresh_offset_pA),
        ("I_width", delta, device.width_slope, device.width_offset_pA),
    )
    currents = []
    for field, param_pA, slope, offset_pA in transfers:
        current = bias_current_pA(param_pA, slope, offset_pA)
        for (cell,) in zip(*np.nonzero(current < 0)):
            report.append(
                OutOfRange(name, field, (int(cell),), float(param_pA[cell]), offset_pA)
            )
        currents.append(_nested(np.maximum(current, 0.0)))
    s0 = (np.asarray(layer.s0_logit) >= 0).astype(int)
    return CellBiases(*currents, initial_state=_nested(s0, int))


def _nested(array, kind=float):
    if array.ndim == 0:
        return kind(array)
    return tuple(_nested(row, kind) for row in array)


def _summary(report: list[OutOfRange], settings: CircuitSettings) -> str:
    mirrors = [r for r in report if r.matrix.startswith("W")]
    cells = len(report) - len(mirrors)
    worst = max(mirrors, key=lambda r: abs(math.log(r.value / r.limit)), default=None)
    worst_text = (
        f"; worst {worst.layer}.{worst.matrix}{list(worst.index)} = {worst.value:.3g}"
        f" (limit {worst.limit:.3g})"
        if worst
        else ""
    )
    return (
        f"{len(mirrors)} weights outside the realisable mirror gain range and {cells} "
        f"cell parameters below the bias-transfer offset{worst_text}; policy "
        f"{settings.out_of_range!r}, see desc.out_of_range"
    )


def _to_plain(obj):
    if dataclasses.is_dataclass(obj):
        return {
            f.name: _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
        }
    if isinstance(obj, tuple | list):
        return [_to_plain(item) for item in obj]
    return obj


def _from_plain(cls, data, where: str):
    """Rebuild dataclass ``cls`` from nested dicts/lists, naming the bad field."""
    if dataclasses.is_dataclass(cls):
        require(isinstance(data, dict), f"{where}: must be an object")
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = sorted(fields - set(data))
        if missing:
            raise InputError(f"{where}: missing field {missing[0]!r}")
        return cls(
            **{
                name: _from_plain(hints[name], data[name], f"{where}.{name}")
                for name in fields
            }
        )
    origin = typing.get_origin(cls)
    if origin is tuple:
        require(isinstance(data, list | tuple), f"{where}: must be a list")
        args = typing.get_args(cls)
        item = args[0]
        return tuple(_from_plain(item, v, f"{where}[{i}]") for i, v in enumerate(data))
    if cls is float:
        ok = isinstance(data, int | float) and not isinstance(data, bool)
        require(ok, f"{where}: must be a number, got {data!r}")
        return float(data)
    if cls is int:
        require(
            isinstance(data, int) and not isinstance(data, bool),
            f"{where}: must be an integer",
        )
        return int(data)
    require(isinstance(data, cls), f"{where}: must be a {cls.__name__}, got {data!r}")
    return data


def _check_description(desc: CircuitDescription) -> None:
    """Physical sanity of a description read from outside: signs, NaN, polarities."""
    banks = [("W_in", desc.W_in), ("W_fc", desc.W_fc)]
    sources = [("b_in", desc.b_in), ("b_fc", desc.b_fc)]
    for i, layer in enumerate(desc.layers):
        banks += [(f"layers[{i}].W_c", layer.W_c), (f"layers[{i}].W_p", layer.W_p)]
        sources += [(f"layers[{i}].b_c", layer.b_c), (f"layers[{i}].b_p", layer.b_p)]
        for field in ("I_gain_pA", "I_thresh_pA", "I_width_pA"):
            _check_currents(f"layers[{i}].cells.{field}", getattr(layer.cells, field))
        states = set(layer.cells.initial_state)
        require(states <= {0, 1}, f"layers[{i}].cells.initial_state: must be 0 or 1")
    for where, bank in banks:
        _check_currents(f"{where}.gain", bank.gain)
        _check_currents(f"{where}.width_um", bank.width_um)
        _check_polarity(f"{where}.polarity", bank.polarity)
    for where, source in sources:
        _check_currents(f"{where}.current_pA", source.current_pA)
        _check_polarity(f"{where}.polarity", source.polarity)


def _check_currents(where: str, values) -> None:
    array = np.asarray(values, dtype=float)
    require(
        not np.any(np.isnan(array)) and not np.any(array < 0),
        f"{where}: must be non-negative and not NaN",
    )


def _check_polarity(where: str, values) -> None:
    found = set(np.asarray(values).ravel().tolist())
    require(found <= set(_POLARITIES), f"{where}: must be one of {_POLARITIES}")
