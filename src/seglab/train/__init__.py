"""Training engine: Lightning module, data module, callbacks, recipes."""
