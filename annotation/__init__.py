"""Annotation: projects, prompts, videos, comparisons, leases (assignments) and judgements."""
