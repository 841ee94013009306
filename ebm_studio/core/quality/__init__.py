"""The quality meter for generated digits (classifier-FID, confidence, coverage, memorisation)."""

from .metrics import QualityMeter, QualityReport, classifier_info, frechet_distance, load_meter

__all__ = ["QualityMeter", "QualityReport", "classifier_info", "frechet_distance", "load_meter"]
