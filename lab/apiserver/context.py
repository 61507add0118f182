"""`ServerContext`: what the request handlers share with the server that runs them.

Its own module so that `handler.py` (which serves requests against it) and `server.py`
(whose `ApiServer` is one, plus the HTTP listener) do not import each other.
"""

from __future__ import annotations

import secrets
import threading

from lab.apiserver.counters import RequestCounters
from lab.apiserver.faults import Faults
from lab.apiserver.rbac import ADMIN, Denial, DenialLog, Identity
from lab.apiserver.store import Store


class ServerContext:
    """The emulator's state and settings as every request thread sees them: the store,
    the faults, RBAC (switch, denial record), bearer tokens, the watch settings and the
    request counters.

    `token`: when set, every request must carry it (or a token from `add_token` /
    `service_account_token`) as a bearer token; unset, anonymous requests act as admin.
    `enforce_rbac`: check non-admin identities against stored Roles / ClusterRoles.
    `history_limit`: how many events the watch history keeps (older resumes get 410).
    `bookmark_interval`: seconds between BOOKMARK events on watches that allow them
    (read by each watch as it streams, so a test may change it while serving).

    Threads: request threads call everything here concurrently. The store and the denial
    log have their own locks; the token table is only ever set or read one key at a
    time (atomic dict operations); `stopping` is an Event; the counters have their lock.
    """

    def __init__(self, token: str | None = None, history_limit: int = 5000,
                 seed: int | None = None, bookmark_interval: float = 5.0,
                 watch_timeout: float = 1800.0, enforce_rbac: bool = False):
        self.token = token
        self.store = Store(history_limit=history_limit, seed=seed)
        self.faults = Faults(seed=seed)
        self.faults.bind_actions(self.store.cut_watches, self.store.expire_history)
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.enforce_rbac = enforce_rbac
        self.denial_log = DenialLog()
        self.counters = RequestCounters()
        self.stopping = threading.Event()
        self._tokens: dict[str, Identity] = {}
        if token:
            self._tokens[token] = ADMIN

    # -------------------------------------------------------------- RBAC record

    @property
    def denials(self) -> list[Denial]:
        """Every request RBAC refused so far, oldest first (also GET /_emulator/denials)."""
        return self.denial_log.all()

    def denials_of(self, user: str) -> list[Denial]:
        """The refusals of one user, e.g. `Identity.service_account(ns, name).user`."""
        return self.denial_log.all(user)

    # -------------------------------------------------------------- identities

    def identity_for_token(self, token: str) -> Identity | None:
        return self._tokens.get(token)

    def add_token(self, token: str, identity: Identity) -> str:
        self._tokens[token] = identity
        return token

    def service_account_token(self, namespace: str, name: str) -> str:
        """A new bearer token that authenticates as the ServiceAccount namespace/name."""
        return self.add_token(secrets.token_hex(16), Identity.service_account(namespace, name))
