"""The Qt layer: views and worker threads over :mod:`ebm_studio.core` (which never imports Qt)."""
