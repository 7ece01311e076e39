"""`python -m benchmark.tune`: see `benchmark.tune.command`."""

import sys

from benchmark.tune.command import main

sys.exit(main())
