"""`python -m benchmark.report`: see `benchmark.report.command`."""

import sys

from benchmark.report.command import main

sys.exit(main())
