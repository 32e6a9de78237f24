"""MLflow "models from code" entry point: MLflow executes this file when loading a model.

Logging the model as code (instead of a cloudpickled object) means loading a NIDS
model never unpickles anything; the fitted pipeline itself is a skops file loaded
against an explicit type allow-list (see ``nids.model.serialization``). Nothing else
imports this module.
"""

from mlflow.models import set_model

from nids.model.pyfunc import NidsModel

set_model(NidsModel())
