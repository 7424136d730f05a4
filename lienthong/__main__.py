"""``python -m lienthong``: the same as the ``lienthong`` command."""

import sys

from lienthong.cli import main

sys.exit(main())
