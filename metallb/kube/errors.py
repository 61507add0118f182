"""Named checks for the API errors the daemons handle, instead of bare status numbers.

Each takes any exception (the client's ApiException, or any error with an int `status`),
so a call site reads `except ApiException as err: if is_conflict(err): ...` and a
connection error (no status) is simply "not a conflict".
"""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

FORBIDDEN, NOT_FOUND, CONFLICT, GONE = 403, 404, 409, 410


def _status(err: BaseException) -> int | None:
    """The HTTP status of the client's ApiException, or of any error carrying an int
    `status` (the component's raw-HTTP HttpError); None for everything else."""
    status = getattr(err, "status", None)
    return status if isinstance(status, int) else None


def is_not_found(err: BaseException) -> bool:
    """404: the object (or its kind, or its namespace) does not exist."""
    return _status(err) == NOT_FOUND


def is_forbidden(err: BaseException) -> bool:
    """403: RBAC does not allow this request."""
    return _status(err) == FORBIDDEN


def is_conflict(err: BaseException) -> bool:
    """409: a write carried a stale resourceVersion, or a create found the name taken."""
    return _status(err) == CONFLICT


def is_gone(err: BaseException) -> bool:
    """410: a watch asked for history the server no longer keeps; relist."""
    return _status(err) == GONE


def is_api_error(err: BaseException) -> bool:
    """An API or connection error (expected, retried) rather than a bug (traceback)."""
    return isinstance(err, ApiException | HTTPError | OSError)
