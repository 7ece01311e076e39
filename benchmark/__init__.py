"""Command-line entry points, data sets, run configuration, records and reports."""
