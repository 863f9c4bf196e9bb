"""``python -m poselift ...`` is the ``poselift`` command."""
import sys

from .cli import main

sys.exit(main())
