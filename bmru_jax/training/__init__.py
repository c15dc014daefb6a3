"""Training: losses, eps annealing, noise-aware augmentation, loop and checkpoints.

data = load_training_data("corpus", "binary")
result = train(TrainConfig(ModelSpec("backbone", width=4)), data, "runs/d4")
model = load_model("runs/d4")          # the best model at eps = 0
"""

from bmru_jax.training.augment import NoiseAware as NoiseAware
from bmru_jax.training.augment import NoiseSources as NoiseSources
from bmru_jax.training.augment import noisy_batch_logits as noisy_batch_logits
from bmru_jax.training.checkpoint import ModelSpec as ModelSpec
from bmru_jax.training.checkpoint import load_model as load_model
from bmru_jax.training.checkpoint import read_metadata as read_metadata
from bmru_jax.training.checkpoint import save_checkpoint as save_checkpoint
from bmru_jax.training.evaluate import mismatch_accuracy as mismatch_accuracy
from bmru_jax.training.loop import StepReport as StepReport
from bmru_jax.training.loop import TrainConfig as TrainConfig
from bmru_jax.training.loop import TrainingData as TrainingData
from bmru_jax.training.loop import TrainResult as TrainResult
from bmru_jax.training.loop import load_training_data as load_training_data
from bmru_jax.training.loop import make_training_data as make_training_data
from bmru_jax.training.loop import train as train
from bmru_jax.training.losses import batch_loss as batch_loss
from bmru_jax.training.losses import evaluate as evaluate
from bmru_jax.training.schedule import eps_schedule as eps_schedule
from bmru_jax.training.schedule import first_bmru_step as first_bmru_step
from bmru_jax.training.schedule import learning_rate_schedule as learning_rate_schedule
