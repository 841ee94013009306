"""The studio's state, without Qt: what model is shown, what the run is doing, which samples are
on screen and what they are, the last evaluation, the dataset, the jobs in flight.

The window only renders it (the napari model/view split): every view connects to the events of
one :class:`StudioController`, so switching model, run or family updates every view or clears
it, and tests drive the controller without widgets.
"""

from .events import Event
from .jobs import Job, JobCancelled, JobList
from .studio import RUN_STATES, SampleSet, ShownModel, StartPlan, StudioController

__all__ = ["Event", "Job", "JobCancelled", "JobList", "RUN_STATES", "SampleSet", "ShownModel", "StartPlan",
           "StudioController"]
