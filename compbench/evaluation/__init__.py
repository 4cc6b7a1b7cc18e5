"""Evaluating adapter bundles: ``compbench.evaluate`` (runner), ``compbench.run_grid`` (grid), model plans and
engines, the generation cache in front of them. Importing this package loads no torch; docs/evaluate.md."""
