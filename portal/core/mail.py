"""Email over SMTP with a deadline: ``SMTPBackend`` is Django's SMTP backend, except that each
connection ends by ``EMAIL_TIMEOUT_SECONDS`` after it opens (greeting, STARTTLS, login and the
message included), however slowly the relay answers. Django's own backend bounds each read only,
so a relay that trickles its replies could hold a worker for as long as it likes.

Emails are sent by a task on the ``webhooks`` queue after the announcing transaction commits
(``tenants.tasks``), never inside a transaction.
"""

from __future__ import annotations

import functools
import smtplib
import time
from typing import Any

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

from portal.core.urls_safety import DeadlineSocket


class _Deadline:
    """An ``smtplib`` connection whose socket (plain, or TLS after STARTTLS) ends by ``deadline``."""

    sock: Any

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        self.deadline = deadline
        super().__init__(*args, **kwargs)  # connects, and reads the greeting, when given a host

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        connected = super()._get_socket(host, port, timeout)  # type: ignore[misc]
        return DeadlineSocket(connected, deadline=self.deadline)

    def starttls(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        reply = super().starttls(*args, **kwargs)  # type: ignore[misc]
        self.sock = DeadlineSocket(self.sock, deadline=self.deadline)
        return reply


class _DeadlineSMTP(_Deadline, smtplib.SMTP):
    pass


class _DeadlineSMTPSSL(_Deadline, smtplib.SMTP_SSL):
    pass


class SMTPBackend(EmailBackend):
    """Django's SMTP backend with one deadline per connection (``EMAIL_TIMEOUT_SECONDS``)."""

    @property
    def connection_class(self) -> Any:
        deadline = time.monotonic() + settings.EMAIL_TIMEOUT
        return functools.partial(
            _DeadlineSMTPSSL if self.use_ssl else _DeadlineSMTP, deadline=deadline
        )
