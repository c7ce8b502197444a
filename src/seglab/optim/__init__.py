"""Optimizers and learning-rate schedules by name (registries + ``create_*`` functions).

* :mod:`seglab.optim.optimizers`: :data:`OPTIMIZERS`, :func:`create_optimizer`,
  :func:`needs_closure` (LBFGS).
* :mod:`seglab.optim.schedulers`: :data:`SCHEDULERS`, :func:`create_scheduler` returning a
  :class:`ScheduledLR` (scheduler, interval, monitor) with a linear warmup option.

>>> import torch
>>> net = torch.nn.Conv2d(3, 1, 3)
>>> opt = create_optimizer("radam", net.parameters(), lr=0.005)  # the seed's optimizer
>>> plan = create_scheduler("reduce_on_plateau", opt, epochs=32, steps_per_epoch=10)
>>> plan.interval, plan.monitor, plan.scheduler.factor
('epoch', 'val_loss', 0.2)
"""

from __future__ import annotations

from seglab.optim.optimizers import OPTIMIZERS, OptimizerSpec, create_optimizer, needs_closure
from seglab.optim.schedulers import (
    SCHEDULERS,
    ScheduledLR,
    SchedulerSpec,
    WarmupReduceLROnPlateau,
    create_scheduler,
)

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "OptimizerSpec",
    "ScheduledLR",
    "SchedulerSpec",
    "WarmupReduceLROnPlateau",
    "create_optimizer",
    "create_scheduler",
    "needs_closure",
]
