"""sec-ai NIDS: machine-learning network intrusion detection with an MLOps lifecycle on MLflow."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sec-ai-nids")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
