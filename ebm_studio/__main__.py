"""``python -m ebm_studio`` is the same as the ``ebm-studio`` command."""

import sys

from .cli import main

sys.exit(main())
