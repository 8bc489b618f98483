"""``python -m csoftmax.bench``: see :mod:`csoftmax.bench.cli`."""

import sys

from .cli import main

sys.exit(main())
