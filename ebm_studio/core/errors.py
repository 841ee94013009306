"""One exception family for everything a user can get wrong.

The GUI and CLI catch :class:`EbmStudioError` and show its one-line message; any other exception
escaping a loader is a bug (the fuzz tests check exactly that).
"""


class EbmStudioError(Exception):
    """Base class: a problem the user can understand and fix, with a one-line message."""


class DataError(EbmStudioError):
    """A dataset or image file is missing, malformed or of the wrong shape."""


class CheckpointError(EbmStudioError):
    """A checkpoint/run directory cannot be loaded (corrupt, truncated, foreign, mismatched)."""


class ConfigError(EbmStudioError):
    """A configuration value is of the wrong type or out of its allowed range."""


class DeviceError(EbmStudioError):
    """The requested compute device is not available."""


class DivergenceError(EbmStudioError):
    """Training produced non-finite or exploding values and could not recover."""


class OutOfMemory(DeviceError):
    """The device (GPU or CPU) ran out of memory, even after the trainer shrank its batch."""

