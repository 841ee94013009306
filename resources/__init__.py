"""EBM Studio's package data, installed as ``ebm_studio.resources`` (see ebm_studio/core/resources.py)."""
