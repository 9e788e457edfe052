"""kwspot: train, evaluate and run small keyword-spotting models."""

__version__ = "0.1.0"
