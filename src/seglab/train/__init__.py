"""Training on Lightning: one run from a :class:`~seglab.config.TrainConfig` to a run folder
(:func:`seglab.train.run.train`), the default recipe, the LightningModule, samples and sampler,
callbacks, the overfitting verdict and the history plots."""
