"""Recording audit events: who did what, and the function every app calls to write it down.

``audit_record`` (one change) and ``audit_record_many`` (several, by one actor, to one chain)
append to the audit trail inside the caller's transaction. The trail itself (sealed chains,
anchors, verification) is governance's: ``governance.audit`` registers its writer here when the
app starts (``GovernanceConfig.ready``). Recording before a writer is registered raises
``AuditWriterMissing``: a change is never made without its event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from portal.core.errors import InvalidRequest


@dataclass(frozen=True)
class Actor:
    """Who did something: a person, a service token (by its visible prefix) or the system."""

    type: str
    label: str
    id: int | None = None

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls(type="user", label=user.get_username(), id=user.pk)

    @classmethod
    def token(cls, prefix: str) -> Actor:
        return cls(type="token", label=prefix)

    @classmethod
    def system(cls, label: str) -> Actor:
        return cls(type="system", label=label)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        principal = request.user
        prefix = getattr(principal, "token_prefix", None)
        return cls.token(prefix) if prefix else cls.user(principal)


@dataclass(frozen=True)
class Change:
    """One change to record: what happened to which object, with the values before and after."""

    action: str
    object_type: str
    object_id: Any
    before: dict | None = None
    after: dict | None = None


class AuditWriter(Protocol):
    """Appends events for ``changes`` by ``actor`` to the chain of ``tenant_id`` (the platform's
    when None), in order, inside the caller's transaction; returns the events written."""

    def __call__(
        self, *, actor: Actor, tenant_id: int | None, changes: list[Change]
    ) -> list[Any]: ...


class AuditWriterMissing(RuntimeError):
    """Nothing can be recorded: no audit writer is registered."""


_writer: AuditWriter | None = None


def audit_writer_register(writer: AuditWriter) -> None:
    """Make ``writer`` the one every audit event is written with (governance's, at start-up)."""
    global _writer  # one writer for the process, set when the apps are ready
    _writer = writer


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: Any,
    tenant_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
) -> Any:
    """Append one event to the tenant's chain (or the platform chain when ``tenant_id`` is None)."""
    change = Change(
        action=action, object_type=object_type, object_id=object_id, before=before, after=after
    )
    return audit_record_many(actor=actor, tenant_id=tenant_id, changes=[change])[0]


def audit_record_many(*, actor: Actor, tenant_id: int | None, changes: list[Change]) -> list[Any]:
    """Append events for several changes by one actor to one chain, in order.

    Must run inside the transaction of the changes it records: the events commit or roll back
    with them.
    """
    if _writer is None:
        raise AuditWriterMissing(
            "No audit writer is registered, so nothing can be recorded: governance registers "
            "it when the apps are ready; is 'governance' in INSTALLED_APPS?"
        )
    return _writer(actor=actor, tenant_id=tenant_id, changes=changes)


def apply_updates(
    instance: Any, *, editable: Iterable[str], updates: dict, refusal: str
) -> tuple[dict, dict]:
    """Set the fields ``updates`` really changes on ``instance`` (unsaved); return before and after.

    A field outside ``editable`` is refused with ``refusal`` followed by the offending names.
    """
    editable = tuple(editable)
    unknown = set(updates) - set(editable)
    if unknown:
        raise InvalidRequest(f"{refusal}: {', '.join(sorted(unknown))}.")
    before, after = {}, {}
    for name in editable:
        if name in updates and getattr(instance, name) != updates[name]:
            before[name] = getattr(instance, name)
            after[name] = updates[name]
            setattr(instance, name, updates[name])
    return before, after
