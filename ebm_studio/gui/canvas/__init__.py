"""The Langevin canvas: draw a digit, then watch the sampler carry it down the energy."""

from .panel import CanvasPanel

__all__ = ["CanvasPanel"]
