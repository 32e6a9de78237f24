"""Packages re-export lazily: importing one loads none of its modules until a name is used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from nids._lazy import lazy_exports


def test_lazy_exports_resolve_on_access_and_refuse_unknown_names() -> None:
    resolve = lazy_exports("pkg", {"sqrt": "math", "loads": "json"})
    assert resolve("sqrt")(9.0) == 3.0
    assert resolve("loads")("[1]") == [1]
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'dumps'"):
        resolve("dumps")


def test_importing_the_packages_loads_none_of_their_modules() -> None:
    probe = (
        "import sys, nids.data, nids.features, nids.pipelines, nids.training\n"
        "heavy = ('pandas', 'mlflow', 'nids.data.readers', 'nids.features.transformer',\n"
        "         'nids.pipelines.retraining', 'nids.training.trainer')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from nids.training import TrainResult\n"
        "print(TrainResult.__module__, 'nids.training.trainer' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[]", "nids.training.trainer True"]
