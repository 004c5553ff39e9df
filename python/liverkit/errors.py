"""The exceptions liverkit raises.

Every error is a :class:`LiverkitError` and carries what the command-line
program prints: the file (``path``), the header field or parameter
(``field``), what was ``expected`` and what was ``found``, each ``None``
where it does not apply. Errors about files are also :class:`OSError`
(``errno`` and ``filename`` set where known); errors about what a file or an
argument holds are also :class:`ValueError`, so code that already catches
the built-in classes keeps working.
"""

from __future__ import annotations

__all__ = [
    "LiverkitError",
    "FileError",
    "WriteError",
    "TruncatedError",
    "HeaderError",
    "DataError",
    "UnsupportedError",
    "GridMismatchError",
    "ParameterError",
]


class LiverkitError(Exception):
    """Base class of every liverkit error."""

    path: str | None
    field: str | None
    expected: str | None
    found: str | None

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        field: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.field = field
        self.expected = expected
        self.found = found

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[object, ...]:
        # Picklable with its attributes (errors travel between processes,
        # e.g. from Dask workers).
        return (
            _rebuild,
            (
                type(self),
                self.message,
                {
                    "path": self.path,
                    "field": self.field,
                    "expected": self.expected,
                    "found": self.found,
                    "errno": getattr(self, "errno", None),
                },
            ),
        )


def _rebuild(cls: type[LiverkitError], message: str, attrs: dict[str, object]) -> LiverkitError:
    return cls(message, **attrs)  # type: ignore[arg-type]


class FileError(LiverkitError, OSError):
    """A file could not be opened or read (missing, permissions, I/O)."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        field: str | None = None,
        expected: str | None = None,
        found: str | None = None,
        errno: int | None = None,
    ) -> None:
        super().__init__(message, path=path, field=field, expected=expected, found=found, errno=errno)
        # OSError's own attributes, for code that reads them.
        self.errno = errno
        self.filename = path
        self.strerror = message


class WriteError(FileError):
    """An output file could not be written; no partial file is left."""


class TruncatedError(FileError):
    """A file ends before the data its header announces, or is corrupt."""


class HeaderError(LiverkitError, ValueError):
    """A header field holds a value liverkit cannot accept."""


class DataError(LiverkitError, ValueError):
    """Voxel values the header allows but liverkit cannot accept."""


class UnsupportedError(LiverkitError, ValueError):
    """A valid file that uses a feature liverkit does not read."""


class GridMismatchError(LiverkitError, ValueError):
    """Volumes that must share a voxel grid do not."""


class ParameterError(LiverkitError, ValueError):
    """An argument is out of range or inconsistent with the others."""
