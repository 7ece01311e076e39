"""`python -m benchmark.datasets`: see `benchmark.datasets.command`."""

import sys

from benchmark.datasets.command import main

sys.exit(main())
