"""Monitoring: reference profiles, prediction log, drift, analyst feedback, reports.

Modules (import what you use; nothing heavy happens at import):
``reference`` (profile saved with every model), ``drift`` (``compare_to_reference``,
``detect_drift``), ``stats`` (tests and effect sizes), ``prediction_log``
(``PredictionLogWriter``), ``feedback`` (``FeedbackStore``), ``rolling``
(``RollingDriftMonitor`` gauges for the service), ``report`` (table and HTML),
``job`` (``run_drift``, ``run_cycle``), ``tracking`` (MLflow monitoring runs).
See docs/monitoring.md.
"""
