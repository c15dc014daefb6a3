"""The sequence-classification tasks of the robustness experiments, all offline.

- ``keywords_binary`` / ``keywords11``: the binary and 11-way keyword tasks of the
  offline espeak-ng corpus (``bmru_jax.data``), 101 frames x 13 MFCCs;
- ``digits`` / ``digits_permuted``: the 8 x 8 digits shipped with scikit-learn, read
  pixel by pixel (64 steps x 1 feature, z-scored over all pixels), plainly or in one
  fixed random order of the pixels;
- ``bundled_binary``: the binary keyword clips shipped with the package
  (``bmru_jax.assets``), split 50/25/25 into train, validation and test: a small task
  that needs no corpus, for quick runs and tests;
- ``mnist``: MNIST from its standard idx files, pixel by pixel (784 steps x 1,
  z-scored like the digits), only when the files are in the folder given.
"""

import dataclasses
import gzip
import pathlib

import numpy as np

DEFAULT_CORPUS = pathlib.Path("/work/corpus_default")
MNIST_FILES = {
    "training": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "testing": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
PERMUTATION_SEED = 1234  # the fixed pixel order of the permuted tasks
TASKS = ("keywords_binary", "keywords11", "digits", "digits_permuted", "mnist")
QUICK_TASK = "bundled_binary"


@dataclasses.dataclass(frozen=True)
class Task:
    """One task's splits: features ``(clips, time, features)``, labels ``(clips,)``."""

    name: str
    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    n_classes: int

    @property
    def n_features(self) -> int:
        """Features per time step."""
        return int(self.train[0].shape[2])

    @property
    def chance(self) -> float:
        """Accuracy of always answering the most frequent test class."""
        counts = np.bincount(self.test[1], minlength=self.n_classes)
        return float(counts.max() / counts.sum())


def load_task(
    name: str, *, quick: bool, corpus=DEFAULT_CORPUS, mnist=None
) -> Task | None:
    """Load a task; None for ``mnist`` when its idx files are not in ``mnist``."""
    if name.startswith("keywords"):
        return _keywords(name, quick, pathlib.Path(corpus))
    if name.startswith("digits"):
        return _digits(name, quick)
    if name == "mnist":
        return _mnist(quick, mnist)
    if name == "bundled_binary":
        return _bundled()
    raise ValueError(f"task: must be one of {TASKS}, got {name!r}")


def _keywords(name: str, quick: bool, corpus: pathlib.Path) -> Task:
    from bmru_jax.data import load_features

    task = "binary" if name == "keywords_binary" else "keywords11"
    # Caps per class (binary: positives) keep the full run within its time budget;
    # the 11-way caps are far below the corpus's 2500 clips per word.
    caps = {"binary": (4000, 500, 500), "keywords11": (500, 100, 100)}[task]
    if quick:
        caps = (60, 20, 20)
    splits = []
    for split, cap in zip(("training", "validation", "testing"), caps):
        features, labels, names = load_features(corpus, task, split, max_per_class=cap)
        splits.append((features.astype(np.float32), labels.astype(np.int32)))
    return Task(name, *splits, n_classes=len(names))


def _digits(name: str, quick: bool) -> Task:
    from sklearn.datasets import load_digits

    images, labels = load_digits(return_X_y=True)
    # z-scored over all pixels (like the MFCC features): zero-valued raw pixels would
    # otherwise give the first-quadrant cells a constant, uninformative candidate.
    pixels = ((images - images.mean()) / images.std()).astype(np.float32)
    if name == "digits_permuted":
        order = np.random.default_rng(PERMUTATION_SEED).permutation(pixels.shape[1])
        pixels = pixels[:, order]
    shuffle = np.random.default_rng(0).permutation(len(labels))
    pixels, labels = pixels[shuffle][..., None], labels[shuffle].astype(np.int32)
    # 1797 images: 1097 train, 300 validation, 400 test.
    bounds = (1097, 1397, 1797)
    if quick:
        bounds = (600, 700, 900)
    splits = np.split(np.arange(bounds[-1]), bounds[:-1])
    train, validation, test = ((pixels[i], labels[i]) for i in splits)
    return Task(name, train, validation, test, n_classes=10)


def _bundled() -> Task:
    from bmru_jax.assets import bundled_test_features

    features, labels = bundled_test_features()
    order = np.random.default_rng(0).permutation(len(labels))
    half, three_quarters = len(labels) // 2, 3 * len(labels) // 4
    parts = np.split(order, (half, three_quarters))
    splits = [(features[i], labels[i].astype(np.int32)) for i in parts]
    return Task("bundled_binary", *splits, n_classes=2)


def _mnist(quick: bool, folder) -> Task | None:
    if folder is None:
        return None
    folder = pathlib.Path(folder)
    paths = {}
    for split, names in MNIST_FILES.items():
        for file in names:
            found = [p for p in (folder / file, folder / f"{file}.gz") if p.is_file()]
            if not found:
                return None
            paths[file] = found[0]
    train_x, train_y = (_read_idx(paths[f]) for f in MNIST_FILES["training"])
    test_x, test_y = (_read_idx(paths[f]) for f in MNIST_FILES["testing"])
    # Pixel-by-pixel MNIST is 784 steps: a subset keeps it within a CPU budget.
    n_train, n_test = (600, 100) if quick else (10000, 2000)
    mean, std = train_x.mean(), train_x.std()
    scale = lambda x: ((x.reshape(len(x), -1, 1) - mean) / std).astype(np.float32)  # noqa: E731
    train = (scale(train_x[:n_train]), train_y[:n_train].astype(np.int32))
    validation = (scale(train_x[-n_test:]), train_y[-n_test:].astype(np.int32))
    test = (scale(test_x[:n_test]), test_y[:n_test].astype(np.int32))
    return Task("mnist", train, validation, test, n_classes=10)


def _read_idx(path: pathlib.Path) -> np.ndarray:
    """An idx file (the MNIST format): big-endian header, then unsigned bytes."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        data = stream.read()
    dims = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims)
    )
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
