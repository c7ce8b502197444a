"""What a run starts from: a validation that would not fit the budget is subsampled."""

from __future__ import annotations

from seglab.config import train_config
from seglab.data.dataset import open_dataset
from seglab.train.setup import _val_within_budget, open_run


def test_a_validation_over_a_quarter_of_the_budget_uses_a_seeded_subset(discs):
    val = open_dataset(discs, split="val")  # 4 images
    config = train_config(data=discs, time_limit=60)
    reasons = []
    # one whole validation ~40 s of a 60 s budget: 1 image (~10 s) fits a quarter (15 s)
    config2, subset, seconds = _val_within_budget(config, val, 40.0, reasons)
    assert config2.val_images == 1 and len(subset) == 1 and seconds == 10.0
    assert "validation on 1 of 4 val images" in reasons[0]
    again = _val_within_budget(config, val, 40.0, [])[1]
    assert again.items == subset.items  # seeded: the same images after a resume
    cheap = _val_within_budget(config, val, 10.0, [])
    assert cheap[0].val_images is None and len(cheap[1]) == 4


def test_val_images_from_the_config_is_applied_when_a_run_is_opened(discs):
    setup = open_run(train_config(data=discs, val_images=2), print, resolve=False)
    assert len(setup.val) == 2
