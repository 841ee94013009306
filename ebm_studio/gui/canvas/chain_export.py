"""Export of the canvas's chain as an animated GIF or a film-strip PNG, as a job with Cancel.

Rendering every recorded frame of every chain takes seconds for long chains (16 chains over a
few thousand steps), so the dialogs run it in the job pool with the window's job bar: a GIF
reports each rendered frame and stops at the next one on Cancel, before anything is written.
The job gets a numpy copy of the frames, never the player the GUI thread keeps stepping.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog

from ...controller.jobs import Job, JobList
from ...core.errors import EbmStudioError
from ...core.export import save_gif, save_strip_png
from ..tasks import run_job

GIF_SCALE = 4
STRIP_SCALE = 2


def write_gif(path: str, frames, fps: float = 12.0, job: Job | None = None) -> int:
    """The GIF of ``frames`` (T, N, 28, 28); progress per frame to ``job``, which may cancel."""

    def progress(done: int, total: int) -> None:
        if job is not None:
            job.advance(done, total)
            job.check()

    try:
        return save_gif(path, frames, scale=GIF_SCALE, fps=fps, progress=progress)
    except OSError as exc:  # disk full, no permission: a message naming the file, not a traceback
        raise EbmStudioError(f"{path}: {exc.strerror or exc}") from None


def write_strip(path: str, frames, job: Job | None = None) -> tuple[int, int]:
    if job is not None:
        job.check()
    try:
        return save_strip_png(path, frames, scale=STRIP_SCALE)
    except OSError as exc:
        raise EbmStudioError(f"{path}: {exc.strerror or exc}") from None


class ChainExport:
    """Mixin of :class:`CanvasPanel`: needs ``player``, ``jobs``, ``message``, ``_error``, the export buttons."""

    jobs: JobList

    def _frames(self):
        if self.player is None or len(self.player.frames) == 0:
            raise EbmStudioError("run a chain first")
        return self.player.frames_array()  # a copy: the player keeps stepping on the GUI thread

    def export_gif(self, path: str, fps: float = 12.0) -> int:
        return write_gif(path, self._frames(), fps)

    def export_strip(self, path: str) -> tuple[int, int]:
        return write_strip(path, self._frames())

    def export_in_background(self, kind: str, path: str):
        """Write a ``"gif"`` or ``"strip"`` in the job pool; returns the job record (None on no chain)."""
        try:
            frames = self._frames()
        except EbmStudioError as exc:
            self._error(str(exc))
            return None
        fn, what = (write_gif, "GIF") if kind == "gif" else (write_strip, "film strip")
        record = self.jobs.begin(f"exporting the {what}")
        self._exporting = True
        self._update_buttons()

        def done(result) -> None:
            self.message.emit(f"wrote {result} frames to {path}" if kind == "gif" else f"wrote {path}")

        def end() -> None:
            self.jobs.end(record)
            self._exporting = False
            self._update_buttons()

        run_job(fn, done, lambda text: self._error(f"could not export: {text}"), path, frames, record=record,
                on_cancelled=lambda: self.message.emit("export cancelled"), on_end=end)
        return record

    def export_gif_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export chain as GIF", "chain.gif", "GIF (*.gif)")
        if path:
            self.export_in_background("gif", path)

    def export_strip_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export film strip", "chain.png", "PNG (*.png)")
        if path:
            self.export_in_background("strip", path)
