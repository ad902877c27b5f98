"""Batch-normalization experiments (placeholder; built in the experiments issue)."""
