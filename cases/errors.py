"""Named errors of the cases package. Every message is one line, fit for a log or a UI toast."""

from __future__ import annotations


class CasesError(Exception):
    """Base class of every error raised by the cases package."""


class DatabaseUnavailable(CasesError):
    """The database URL is unusable or the server cannot be reached."""


class SchemaNotCurrent(CasesError):
    """The database is not at the newest schema: `hotline db` has not been run since an upgrade."""


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


class UserNotFound(NotFound):
    pass


class UserExists(CasesError):
    """A user with that username already exists."""


class IllegalTransition(CasesError):
    """A workflow step that the current stage does not allow; nothing was changed."""

    def __init__(self, workflow: str, entity_id: object, stage: str, action: str, allowed: tuple[str, ...]) -> None:
        self.workflow = workflow
        self.entity_id = entity_id
        self.stage = stage
        self.action = action
        self.allowed = allowed
        shown = ", ".join(allowed) or "none (final stage)"
        super().__init__(f"{workflow} {entity_id}: cannot {action} when {stage}; allowed now: {shown}")


class InvalidWorkflowInput(InvalidInput):
    """A workflow step's input is rejected (bad amount, shares not summing to 100 %, ...)."""


class ChangeAlreadyWaiting(InvalidWorkflowInput):
    """A change of this field of this shipment already waits for approval (`request_id`): one at a time."""

    def __init__(self, message: str, request_id: int) -> None:
        super().__init__(message)
        self.request_id = request_id


class EvidenceRejected(InvalidWorkflowInput):
    """An evidence file is too large, of a type not accepted, or empty."""


class ComplaintNotFound(NotFound):
    pass


class ClaimNotFound(NotFound):
    pass


class ChangeRequestNotFound(NotFound):
    pass


class InspectionNotFound(NotFound):
    pass


class FindingNotFound(NotFound):
    pass


class IncidentNotFound(NotFound):
    """No incident (突发事件) with that id."""


class SanctionNotFound(NotFound):
    """No reward or penalty (奖罚) with that id."""


class InvalidReportRequest(InvalidInput):
    """A report was asked for with a bad name, period, time zone or format."""


class ReportRenderError(CasesError):
    """A report could not be rendered (e.g. the CJK font for PDF is not installed)."""


class ShipmentImportError(InvalidInput):
    """A shipments CSV file is unreadable or has a bad row; nothing was imported."""


class UnknownWaybill(NotFound):
    """The shipment source has no shipment with that waybill."""


class ShipmentSourceError(CasesError):
    """A shipment source (a transport-management system) could not answer a lookup."""


class ShipmentSourceUnreachable(ShipmentSourceError):
    """The transport-management system cannot be reached (refused, timed out, connection dropped)."""


class ShipmentSourceBadAnswer(ShipmentSourceError):
    """The transport-management system answered, but not with the contract's JSON (HTTP 5xx, not
    JSON, fields missing or of the wrong type)."""


class ShipmentUpdateRefused(ShipmentSourceError):
    """The transport-management system answered a shipment update with a refusal (HTTP 4xx: unknown
    waybill, the value changed meanwhile, the shipment already delivered, ...); nothing was changed."""


class ChangeCallbackNotFound(NotFound):
    """No such open callback (回电) after a change request's decision."""
