"""The shipped families' names, in menu order, without importing them.

The CLI's parser offers them as ``--model`` and ``--set model.family`` choices; reading them from
the family records would import every family package, and with it torch (about 1.5 s), before
``ebm-studio --help`` or an argument error could print. The composition root
(:mod:`ebm_studio.core.families`) checks at import that the records it registers carry exactly
these names in this order, so the two cannot drift apart.
"""

SHIPPED_FAMILIES: tuple[str, ...] = ("conv", "rbm", "hopfield", "sparse-rbm", "dbm", "vae", "flow", "flowmatch")
