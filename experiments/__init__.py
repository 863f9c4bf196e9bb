"""Experiments: configs, data loading by config, training runs, evaluation, tables, comparisons, figures and
benchmarks, all reading and writing run folders."""
