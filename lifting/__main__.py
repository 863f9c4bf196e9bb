"""``python -m poselift ...`` is the ``poselift`` command."""
import sys

from poselift.commands import main

sys.exit(main())
