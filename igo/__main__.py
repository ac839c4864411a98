"""``python -m igo``: the same as the ``igo`` command."""

import sys

from .cli import main

sys.exit(main())
