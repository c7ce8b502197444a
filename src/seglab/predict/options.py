"""How a run predicts: the options every command that predicts shares (predict, evaluate, the
report), as one value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seglab.core.checks import check_batch_size, check_threshold
from seglab.errors import ConfigError


@dataclass(frozen=True)
class PredictOptions:
    """``threshold`` (``None``: the run's own), ``tta`` (average the four flips), ``tile`` and
    ``overlap`` (sliding windows, network-space pixels), ``batch_size`` (images or windows per
    forward pass); see :meth:`seglab.predict.LoadedModel.predict_proba_batch`."""

    threshold: float | None = None
    tta: bool = False
    tile: int | None = None
    overlap: float = 0.25
    batch_size: int = 8
    crf: bool = False
    crf_iterations: int = 5

    def __post_init__(self) -> None:
        # checked when the options are made, before a model is loaded or an image read
        check_threshold(self.threshold)
        check_batch_size(self.batch_size)
        iterations = self.crf_iterations
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise ConfigError(
                f"--crf-iterations {iterations!r}: expected a whole number, 1 or more"
            )

    @property
    def crf_options(self) -> dict[str, Any] | None:
        """The options of :func:`seglab.models.crf.crf_refine` (``None``: no CRF)."""
        return {"iterations": self.crf_iterations} if self.crf else None

    def batch_options(self) -> dict[str, Any]:
        """The keyword arguments of ``predict_proba_batch`` (``crf`` only when set)."""
        options: dict[str, Any] = {
            "tta": self.tta,
            "tile": self.tile,
            "overlap": self.overlap,
            "batch_size": self.batch_size,
        }
        if self.crf:
            # only when asked: instance models (which refuse it earlier) never see the key
            options["crf"] = self.crf_options
        return options
