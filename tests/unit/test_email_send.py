"""reports.email.send turns every failure into an EmailError (exit 4), however the settings reached it."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from reports.email import send
from reports.errors import EmailError


def options(**more) -> SimpleNamespace:
    base = {
        "out": Path("out"),
        "smtp_host": "127.0.0.1",
        "smtp_port": 25,
        "smtp_starttls": False,
        "smtp_sender": "audit@example.org",
        "smtp_user": "",
        "smtp_recipients": ("lead@example.org",),
    }
    return SimpleNamespace(**(base | more))


@pytest.mark.parametrize("host", ["smtp..example.org", f"{'a' * 64}.example.org"])
def test_a_host_name_idna_cannot_encode_is_an_email_error(host):
    """smtplib raises UnicodeError (a ValueError) for these before connecting: exit 4, not 1."""
    with pytest.raises(EmailError, match="smtp_host"):
        send(EmailMessage(), options(smtp_host=host), None)
