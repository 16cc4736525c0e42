"""Training: one loop (:func:`fit`) for every generator family; objectives live in ``learnedaug.train.objectives``."""

from .loop import TrainResult, fit, load_checkpoint, validate_dataset
from .plots import sample_grid, save_loss_curve, save_sample_grid

__all__ = ["TrainResult", "fit", "load_checkpoint", "sample_grid", "save_loss_curve", "save_sample_grid", "validate_dataset"]
