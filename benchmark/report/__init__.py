"""The report package: `python -m benchmark.report` (the command), `tables` (built from run
records), `runs` (which runs go together), `render` (Markdown, LaTeX, CSV), `significance`
(paired tests), `analysis` (accuracy by popularity and history length) and `readme` (the
README's results block, generated from the committed results)."""
