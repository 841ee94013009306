"""The Qt layer: views and worker threads over :mod:`ebm_studio.core` (which never imports Qt)."""

from .qt_compat import protect_none_refcount

protect_none_refcount()  # before any widget paints: see qt_compat for the binding bug it guards
