"""Experiment files: valid documents parse, bad ones name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from nids.abtest.config import load_experiment, parse_experiment
from nids.errors import ConfigError

DOC = {
    "name": "v2-vs-v1",
    "variants": [
        {"name": "control", "model_uri": "models:/m@production", "weight": 4},
        {"name": "candidate", "model_uri": "models:/m/2", "weight": 1},
        {"name": "shadow", "model_uri": "models:/m/3", "shadow": True, "sample": 0.5},
    ],
}


def test_roles_and_normalised_weights() -> None:
    config = parse_experiment(DOC)
    assert config.control.name == "control"
    assert [v.name for v in config.candidates] == ["candidate", "shadow"]
    assert [v.name for v in config.shadows] == ["shadow"]
    assert config.weights() == {"control": 0.8, "candidate": 0.2}
    assert config.assign_by == "src_ip"


def test_explicit_control_flag_wins() -> None:
    doc = {**DOC, "variants": [{**DOC["variants"][0]}, {**DOC["variants"][1], "control": True}]}
    assert parse_experiment(doc).control.name == "candidate"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"assign_by": "dst_port"}, "assign_by"),
        ({"variants": [DOC["variants"][0], DOC["variants"][0]]}, "unique"),
        ({"variants": [{**DOC["variants"][0], "weight": -1}]}, "variants.0.weight"),
        ({"variants": [DOC["variants"][2]]}, "positive weight"),
        ({"guardrails": {"max_error_rate": 2}}, "guardrails.max_error_rate"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_documents_name_the_problem(change: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        parse_experiment({**DOC, **change}, source="exp.yaml")


def test_load_yaml_file_and_errors_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "exp.yaml"
    good.write_text(
        "name: e\nassign_by: header:X-Tenant\nvariants:\n"
        "  - {name: a, model_uri: 'models:/m/1', weight: 1}\n"
    )
    assert load_experiment(good).assign_by == "header:X-Tenant"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_experiment(bad)
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read"):
        load_experiment(tmp_path / "missing.yaml")
