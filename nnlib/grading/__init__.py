"""Grading of the exercises (placeholder; built in the grader issue)."""
