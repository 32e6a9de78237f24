"""The one exception hierarchy of the project.

Every error a user can cause or meet in operation is a :class:`NidsError`. The CLI
prints its message (never a traceback) and exits with its ``exit_code``; the HTTP
service maps it to a 4xx/5xx answer without internal details.
"""

from __future__ import annotations

# Exit codes shared by every command, so schedulers can branch on them.
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER = 2  # bad input, bad configuration
EXIT_DRIFT = 3  # `nids monitor drift`: drift declared
EXIT_SERVICE = 4  # a service we depend on (MLflow, S3, database) failed
EXIT_REFUSED = 5  # a promotion gate refused the candidate / champion kept
EXIT_LOCKED = 6  # another run holds the lock


class NidsError(Exception):
    """Base class: a failure with a message meant for the user."""

    exit_code: int = EXIT_USER

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class ConfigError(NidsError):
    """Invalid settings or flags."""


class DataError(NidsError):
    """Input data that cannot be read or validated.

    ``source`` names the file/object, ``line`` the 1-based line or row, ``field``
    the column, so the user can find the offending value.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                source,
                f"line {line}" if line is not None else None,
                f"field '{field}'" if field is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message, hint=hint)
        self.source = source
        self.line = line
        self.field = field


class EmptyDataError(DataError):
    """The input holds no flows."""


class UnknownFormatError(DataError):
    """The input's format could not be recognised."""


class SchemaError(DataError):
    """Required columns are missing or values violate the flow schema."""


class TrainingError(NidsError):
    """Training cannot proceed with the given data or parameters."""


class ServiceUnavailableError(NidsError):
    """An external service (MLflow tracking server, S3, database) failed."""

    exit_code = EXIT_SERVICE


class RegistryError(NidsError):
    """A registry operation is invalid (unknown model/version, bad state)."""


class ModelIntegrityError(RegistryError):
    """A model's artefacts do not match their recorded SHA-256 manifest."""


class PromotionRefusedError(RegistryError):
    """The promotion gate refused a candidate."""

    exit_code = EXIT_REFUSED


class ConcurrentUpdateError(RegistryError):
    """Another process changed the registry state this operation was based on."""

    exit_code = EXIT_LOCKED


class LockHeldError(NidsError):
    """Another process holds the lock for this operation."""

    exit_code = EXIT_LOCKED


class DriftDetected(NidsError):
    """Raised by commands that must exit with the drift status."""

    exit_code = EXIT_DRIFT
