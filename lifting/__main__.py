"""``python -m poselift ...`` is the ``poselift`` command."""
import sys

from poselift.cli import main

sys.exit(main())
