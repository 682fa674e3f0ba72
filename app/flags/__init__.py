"""Feature flags (docs/flags.md): the model and evaluation are pure; storage is in ``store``."""
