"""The quality meter for generated digits: classifier-FID, confidence, coverage, memorisation.

    from ebm_studio.core.quality import load_meter
    report = load_meter().evaluate(samples)   # (N, 28, 28) or (N, 1, 28, 28) in [0, 1]
    # evaluate_steps(samples): the same as a step generator (MeterProgress), for progress + Cancel
    print(report)                             # report.fid, .confidence, .coverage_bits, ...

Why each figure exists is in :mod:`.metrics`; what real digits, noise, blanks and blobs score is in
``resources/classifier/CALIBRATION.md``.
"""

from .metrics import (
    MeterProgress,
    QualityMeter,
    QualityReport,
    as_sample_tensor,
    classifier_info,
    coverage_bits,
    frechet_distance,
    load_meter,
)

__all__ = ["MeterProgress", "QualityMeter", "QualityReport", "as_sample_tensor", "classifier_info", "coverage_bits",
           "frechet_distance", "load_meter"]
