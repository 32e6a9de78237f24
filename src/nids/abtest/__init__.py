"""A/B testing between model versions: experiment config, sticky assignment, in-service
routing with shadows and guardrails, and the statistical verdict of ``nids ab report``."""
