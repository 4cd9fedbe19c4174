"""Send the summary email over SMTP, or write it as an `.eml` file for a dry run.

The message is multipart/alternative: a plain-text part and the inlined email.html. The password
is passed in by the caller (from CLINIC_AUDIT_SMTP_PASSWORD); nothing here reads the environment.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING

from reports.errors import EmailError
from reports.files import write_text_private

if TYPE_CHECKING:
    from reports.options import EmailOptions
    from reports.render import Reports

PASSWORD_VARIABLE = "CLINIC_AUDIT_SMTP_PASSWORD"
TIMEOUT_SECONDS = 30


def build_message(reports: Reports, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """The summary as a multipart/alternative message (plain text first, HTML preferred)."""
    message = EmailMessage()
    message["Subject"] = reports.email.subject
    message["From"] = sender or "clinic-audit@localhost"
    if recipients:
        message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="clinic-audit.invalid")
    message.set_content(reports.email_plain_text)
    message.add_alternative(reports.email_html_text, subtype="html")
    return message


def write_eml(path: Path, message: EmailMessage) -> Path:
    """The dry run: the exact message that would be sent, owner-only."""
    return write_text_private(path, message.as_string())


def send(message: EmailMessage, settings: EmailOptions, password: str | None) -> None:
    """Deliver over SMTP with STARTTLS (unless turned off); every failure becomes an EmailError."""
    host, port = settings.smtp_host, settings.smtp_port
    try:
        with smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                _starttls(smtp, host, port)
            if password:
                _login(smtp, settings, password)
            refused = smtp.send_message(message)  # some recipients refused, the others accepted
    except smtplib.SMTPAuthenticationError as error:
        raise EmailError(
            f"SMTP login to {host}:{port} as {settings.smtp_user or settings.smtp_sender} was refused "
            f"({error.smtp_code}); check {PASSWORD_VARIABLE} and smtp_user"
        ) from None
    except UnicodeError:  # IDNA: a host name with an empty or over-long part (smtplib's ValueError)
        raise EmailError(
            f"SMTP server {host!r} is not a valid host name (an empty part or one over 63 characters); "
            "check smtp_host"
        ) from None
    except (ConnectionRefusedError, TimeoutError) as error:
        raise EmailError(
            f"could not connect to SMTP server {host}:{port}: {error.strerror or error}"
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise EmailError(f"sending the summary email via {host}:{port} failed: {error}") from None
    if refused:  # smtplib returns them rather than raise: a lead who never got it must be told
        raise EmailError(
            f"{host}:{port} refused {len(refused)} of {len(settings.smtp_recipients)} recipient(s) "
            f"({', '.join(sorted(refused))}); the others were sent the email"
        )


def _starttls(smtp: smtplib.SMTP, host: str, port: int) -> None:
    try:
        smtp.starttls(context=ssl.create_default_context())
    except smtplib.SMTPNotSupportedError:
        raise EmailError(
            f"{host}:{port} does not offer STARTTLS; set smtp_starttls = false only on a trusted network"
        ) from None


def _login(smtp: smtplib.SMTP, settings: EmailOptions, password: str) -> None:
    """Log in; smtplib raises the same SMTPNotSupportedError for no AUTH as for no STARTTLS, so the
    advice is given here, where it is known which one the server lacks."""
    try:
        smtp.login(settings.smtp_user or settings.smtp_sender, password)
    except smtplib.SMTPNotSupportedError:
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        # many servers offer AUTH only once the connection is encrypted
        tls = (
            ""
            if settings.smtp_starttls
            else " over an unencrypted connection (smtp_starttls = true may help)"
        )
        raise EmailError(
            f"{where} offers no login (SMTP AUTH){tls}; unset {PASSWORD_VARIABLE} if it takes mail "
            "without one"
        ) from None


def deliver(reports: Reports, settings: EmailOptions, password: str | None, dry_run: bool) -> Path | None:
    """Send the summary, or with `dry_run` write `<out>/email.eml`; returns the .eml path if written."""
    if not settings.smtp_recipients and not dry_run:
        raise EmailError("no recipients: set smtp_recipients in the config or CLINIC_AUDIT_SMTP_RECIPIENTS")
    if not settings.smtp_host and not dry_run:
        raise EmailError("no SMTP server: set smtp_host in the config or CLINIC_AUDIT_SMTP_HOST")
    message = build_message(reports, settings.smtp_sender, settings.smtp_recipients)
    if dry_run:
        return write_eml(settings.out / "email.eml", message)
    send(message, settings, password)
    return None
