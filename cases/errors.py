"""Named errors of the cases package. Every message is one line, fit for a log or a UI toast."""

from __future__ import annotations


class CasesError(Exception):
    """Base class of every error raised by the cases package."""


class DatabaseUnavailable(CasesError):
    """The database URL is unusable or the server cannot be reached."""


class InvalidInput(CasesError):
    """Input rejected before anything was written."""


class InvalidCaseInput(InvalidInput):
    """A case could not be created or updated because of its input."""


class InvalidWaybill(InvalidInput):
    """A waybill (运单) number is not 10-14 digits."""


class InvalidCallRecord(InvalidInput):
    """A call record cannot be stored (e.g. it has no linkedid)."""


class InvalidTranscriptInput(InvalidInput):
    """A transcript cannot be stored (bad speaker, words not a JSON array, ...)."""


class InvalidUserInput(InvalidInput):
    """A user cannot be created (bad username, role, short password, ...)."""


class NotFound(CasesError):
    """Something looked up by key does not exist."""


class CaseNotFound(NotFound):
    pass


class CallNotFound(NotFound):
    pass


class UserExists(CasesError):
    """A user with that username already exists."""
