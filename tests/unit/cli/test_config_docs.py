"""The configuration reference documents every setting, exactly as the code defines it."""

from nids.cli._docs import render
from support import REPO_ROOT


def test_configuration_doc_is_current() -> None:
    doc = (REPO_ROOT / "docs" / "configuration.md").read_text()
    assert doc == render(), "regenerate: python -m nids.cli._docs > docs/configuration.md"
