"""The one model object: the sklearn Pipeline (features -> detector), the Scorer every path
uses, the compiled forest, and the MLflow pyfunc wrapping them.

Modules: ``pipeline`` (build_pipeline), ``scorer`` (Scorer), ``pyfunc`` (NidsModel,
log_nids_model), ``serialization`` (skops with an exact type allow-list), ``fastforest``
(CompiledForest), ``detectors`` (make_detector). Nothing is imported here so that
``import nids.model`` stays cheap.
"""
