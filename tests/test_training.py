"""Training: eps schedule, loop, resume, noise-aware batches, checkpoints, assets."""

import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bmru_jax.cli import main
from bmru_jax.errors import InputError
from bmru_jax.training import (
    ModelSpec,
    NoiseAware,
    NoiseSources,
    TrainConfig,
    eps_schedule,
    evaluate,
    first_bmru_step,
    load_model,
    make_training_data,
    mismatch_accuracy,
    noisy_batch_logits,
    save_checkpoint,
    train,
)
from bmru_jax.training import checkpoint as checkpoint_module

FRAMES = 12


def _learnable(n, seed):
    """Clips whose label sets the sign of feature 0 on every frame, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    features = rng.normal(size=(n, FRAMES, 13)).astype(np.float32)
    features[:, :, 0] += 1.5 * (2 * labels[:, None] - 1)
    return features, labels


@pytest.fixture(scope="module")
def data():
    return make_training_data(_learnable(256, 0), _learnable(64, 1), {"kind": "test"})


def _config(**changes):
    settings = dict(
        model=ModelSpec(width=2),
        steps=20,
        batch_size=32,
        eval_every=5,
        checkpoint_every=5,
        learning_rate=1e-2,
    )
    settings.update(changes)
    return TrainConfig(**settings)


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def test_eps_schedule_by_hand():
    # K = 40: hold 5 % = 2 steps at 1, then 1 - (k - 2) / 28, zero from k = 30.
    expected = {0: 1.0, 2: 1.0, 3: 1 - 1 / 28, 16: 0.5, 29: 1 / 28, 30: 0.0, 39: 0.0}
    for step, eps in expected.items():
        assert float(eps_schedule(step, 40)) == pytest.approx(eps, abs=1e-6)
    assert first_bmru_step(40) == 30
    assert float(eps_schedule(5, 10, hold=0.5, decay=0.0)) == 0.0
    with pytest.raises(InputError, match="hold \\+ decay"):
        eps_schedule(0, 10, hold=0.5, decay=0.6)


def test_training_lowers_loss_and_checkpoints_only_at_eps_zero(data, tmp_path):
    config = _config(eval_every=4)
    start = config.model.build(key=jax.random.fold_in(jax.random.key(0), 0))
    before = evaluate(start, data.validation_features, data.validation_labels)
    reports = []
    result = train(config, data, tmp_path / "run", progress=reports.append)
    after = evaluate(result.model, data.validation_features, data.validation_labels)
    assert after["loss"] < before["loss"] - 0.05
    assert after["accuracy"] > 0.8
    # Evaluated (and checkpointed) only after steps trained at eps = 0: step index 15
    # is the first (first_bmru_step), so after 16 and 20 steps.
    assert [h["step"] for h in result.history] == [16, 20]
    assert result.best_step >= first_bmru_step(20)
    assert reports[-1].step == 20 and reports[-1].eps == 0.0
    with pytest.raises(InputError, match="already holds a run"):
        train(config, data, tmp_path / "run")


def test_resume_equals_uninterrupted_run(data, tmp_path):
    # Batches and dies depend only on (seed, step): the noise-aware case rests on the
    # same keys, checked by the noise-aware batch test below.
    config = _config()
    whole = train(config, data, tmp_path / "whole")

    def interrupt(report):
        if report.step == 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, data, tmp_path / "split", progress=interrupt, report_every=5)
    stored = json.loads((tmp_path / "split" / "last.json").read_text())
    assert stored["state"]["step"] == 10
    resumed = train(config, data, tmp_path / "split", resume=True)
    for a, b in zip(_leaves(whole.model), _leaves(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed.history == whole.history


def test_resume_refuses_other_settings(data, tmp_path):
    config = _config(steps=16, eval_every=100)
    train(config, data, tmp_path / "run")
    other = _config(steps=16, eval_every=100, model=ModelSpec(width=3))
    with pytest.raises(InputError, match="last.json: training.model.width is 2"):
        train(other, data, tmp_path / "run", resume=True)


def test_baseline_trains(data, tmp_path):
    config = _config(model=ModelSpec("lru", width=4), steps=16, eval_every=100)
    result = train(config, data, tmp_path / "lru")
    assert type(result.model).__name__ == "ResidualStack"
    assert load_model(tmp_path / "lru").cell == "lru"
    with pytest.raises(InputError, match="noise_aware"):
        _config(model=ModelSpec("mingru"), noise_aware=NoiseAware())


def test_noise_aware_batches_differ_per_step_and_repeat_per_seed():
    model = ModelSpec(width=3).build(key=jax.random.key(0))
    clip = jax.random.normal(jax.random.key(1), (FRAMES, 13))
    x = jnp.stack([clip, clip, clip])  # the same clip three times
    noise = NoiseSources.from_settings(NoiseAware(multiple=3.0))

    def logits(step, seed=0, noise=noise):
        return noisy_batch_logits(
            model,
            x,
            noise,
            eps=jnp.float32(0.0),
            root=jax.random.key(seed),
            step=jnp.int32(step),
        )

    first = logits(0)
    np.testing.assert_array_equal(first, logits(0))  # reproducible
    assert not np.allclose(first, logits(1))  # fresh dies every step
    assert not np.allclose(first, logits(0, seed=1))  # another seed, other dies
    assert not np.allclose(first[0], first[1])  # a die per clip
    per_batch = NoiseSources.from_settings(NoiseAware(multiple=3.0, per="batch"))
    shared = logits(0, noise=per_batch)
    np.testing.assert_array_equal(shared[0], shared[1])  # one die for the batch
    clean = jax.vmap(model)(x)
    assert not np.allclose(shared[0], clean[0])


def test_checkpoint_round_trip_is_bit_identical(tmp_path):
    model = ModelSpec(width=3).build(key=jax.random.key(5))
    record = {"contents": "model", "model": ModelSpec(width=3).__dict__}
    save_checkpoint(tmp_path / "m.json", model, record)
    loaded = load_model(tmp_path / "m.json")
    for a, b in zip(_leaves(model), _leaves(loaded), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


def test_incompatible_checkpoint_is_refused_naming_the_file(tmp_path):
    model = ModelSpec(width=3).build(key=jax.random.key(5))
    path = tmp_path / "m.json"
    save_checkpoint(path, model, {"contents": "model", "model": {"width": 3}})
    record = json.loads(path.read_text())
    record["model"]["width"] = 5
    path.write_text(json.dumps(record))
    with pytest.raises(InputError, match="m-[0-9a-f]+.eqx: arrays do not fit .*m.json"):
        load_model(path)
    record["model"]["kind"] = "transformer"
    path.write_text(json.dumps(record))
    with pytest.raises(InputError, match="m.json: model: must be one of"):
        load_model(path)
    path.write_text("{}")
    with pytest.raises(InputError, match="m.json: not a bmru-jax checkpoint"):
        load_model(path)


def test_broken_write_keeps_the_good_checkpoint(tmp_path, monkeypatch):
    good = ModelSpec(width=3).build(key=jax.random.key(5))
    newer = ModelSpec(width=3).build(key=jax.random.key(6))
    path = tmp_path / "m.json"
    record = {"contents": "model", "model": {"width": 3}}
    save_checkpoint(path, good, record)
    real_replace = os.replace
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        if str(dst).endswith(".json"):  # the leaves are in place, the commit fails
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(checkpoint_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, newer, record)
    monkeypatch.setattr(checkpoint_module.os, "fsync", _fail_mid_write)
    with pytest.raises(OSError, match="disk"):
        save_checkpoint(path, newer, record)
    monkeypatch.undo()
    assert len(calls) == 2
    for a, b in zip(_leaves(good), _leaves(load_model(path)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob(".*partial"))


def _fail_mid_write(fd):
    raise OSError(5, "disk failed mid-write")


def test_cli_train_reports_bad_data_folder(tmp_path, capsys):
    code = main(["train", "--data", str(tmp_path / "none"), "--out", str(tmp_path)])
    assert code == 2
    assert "bmru-jax train: error:" in capsys.readouterr().err


def test_bundled_models_load_and_beat_chance():
    from bmru_jax import assets

    features, labels = assets.bundled_test_features()
    assert features.dtype == np.float32 and features.shape[1:] == (101, 13)
    model = assets.bundled_model("kws-d4-noise-aware")
    accuracy = evaluate(model, features, labels)["accuracy"]
    # Chance is 1/2 (balanced classes); 5 sigma of a coin's accuracy over n clips.
    assert accuracy > 0.5 + 5 * np.sqrt(0.25 / len(labels))
    with pytest.raises(InputError, match="name: must be one of"):
        assets.bundled_model("kws-d5")


def test_ideal_circuit_dies_decide_as_the_model():
    from bmru_jax import assets, circuit

    features, labels = assets.bundled_test_features()
    features, labels = features[::10], labels[::10]
    model = assets.bundled_model("kws-d4")
    ideal = circuit.NonIdealities.ideal()
    software = evaluate(model, features, labels)["accuracy"]
    key = jax.random.key(0)
    nominal = mismatch_accuracy(
        model, features, labels, None, dies=1, key=key, nonideal=ideal
    )
    no_spread = mismatch_accuracy(
        model,
        features,
        labels,
        circuit.Multiplicative(0.0),
        dies=2,
        key=key,
        nonideal=ideal,
    )
    np.testing.assert_array_equal(np.r_[nominal, no_spread], software)
