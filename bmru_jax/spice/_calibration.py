"""Device constants measured with ngspice, stored for the behavioural circuit model.

``calibration.json`` next to this module holds what the ``cell`` and ``mismatch``
checks measured on the GF180MCU models: the cell's bias-to-parameter fits, its leakage
and droop, the mirrors' gain against width, the subthreshold slope factors and the
Pelgrom coefficients ``A_VT``, each with its provenance (model package, runs, date).
The field names under ``"device_parameters"`` are those of
:class:`bmru_jax.circuit.devices.DeviceParameters`, so the circuit package can take them
as its defaults.
"""

import datetime
import json
from pathlib import Path

from bmru_jax.errors import InputError
from bmru_jax.spice._models import MODEL_FILE, MODEL_LICENSE, MODEL_PACKAGE

CALIBRATION_PATH = Path(__file__).with_name("calibration.json")


def load_calibration(path: str | Path | None = None) -> dict:
    """The stored calibration (``{}`` when the default file does not exist yet).

    Args:
        path: a calibration JSON file; the packaged one when ``None``.

    Example:
        >>> cal = load_calibration()
        >>> sorted(cal) == [] or "pelgrom" in cal or "device_parameters" in cal
        True
    """
    file = CALIBRATION_PATH if path is None else Path(path)
    if not file.is_file():
        if path is not None:
            raise InputError(f"calibration: file {file} does not exist")
        return {}
    try:
        return json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise InputError(
            f"calibration: {file} is not valid JSON ({error.msg})"
        ) from None


def update_calibration(
    path: str | Path, section: str, values: dict, *, runs: int
) -> dict:
    """Merge ``values`` into ``section`` of the calibration file, with provenance.

    Args:
        path: the JSON file to create or update.
        section: ``"device_parameters"``, ``"pelgrom"`` or another top-level key.
        values: the measured numbers (JSON-serialisable).
        runs: how many SPICE runs (or Monte Carlo samples) they come from.

    Returns:
        The whole updated calibration.
    """
    file = Path(path)
    calibration = json.loads(file.read_text()) if file.is_file() else {}
    calibration.setdefault(section, {}).update(values)
    calibration.setdefault("provenance", {})[section] = {
        "models": f"{MODEL_PACKAGE} ({MODEL_FILE}, typical corner, 27 C)",
        "model_license": MODEL_LICENSE,
        "simulator": "ngspice",
        "runs": int(runs),
        "date": datetime.date.today().isoformat(),
    }
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(calibration, indent=2, sort_keys=True) + "\n")
    return calibration
