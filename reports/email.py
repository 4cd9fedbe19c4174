"""Send the summary email over SMTP, or write it as an `.eml` file for a dry run.

The message is multipart/alternative: a plain-text part and the inlined email.html. The password
is passed in by the caller (from CLINIC_AUDIT_SMTP_PASSWORD); nothing here reads the environment.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
from contextlib import suppress
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reports.errors import EmailError
from reports.files import write_text_private

if TYPE_CHECKING:
    from reports.options import EmailOptions
    from reports.render import Reports

PASSWORD_VARIABLE = "CLINIC_AUDIT_SMTP_PASSWORD"
TIMEOUT_SECONDS = 30  # each connect, read and write; the whole conversation: smtp_timeout_seconds


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


class _TimedSMTP(smtplib.SMTP):
    """smtplib.SMTP whose whole conversation ends at a deadline. smtplib's timeout bounds each read:
    a server trickling its reply a byte at a time (or a multi-line reply that never ends) held the
    run, and the database lock, for ever. At the deadline a timer thread shuts the connection down
    (through a duplicate of its socket, so it reaches it under TLS too, whatever object smtplib holds
    then): the blocked read returns at once and the conversation fails; `expired` then says why."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._guard = threading.Lock()
        self._connection: socket.socket | None = None  # a duplicate of the connection's socket
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True  # never keeps the process alive
        self._timer.start()  # before smtplib's own start-up, which looks up this host's name
        super().__init__(timeout=min(TIMEOUT_SECONDS, seconds))

    def connect(
        self, host: str = "localhost", port: int = 0, source_address: Any = None
    ) -> tuple[int, bytes]:
        """Connect as smtplib.SMTP(host, port) does, keeping the host name STARTTLS checks the
        server's certificate against (smtplib sets it only when given the host at creation)."""
        self._host = host
        return super().connect(host, port, source_address)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)
        with self._guard:
            if self.expired:  # the connect itself took the time (it is bounded by `timeout`)
                sock.close()
                raise TimeoutError("the deadline passed while connecting")
            self._connection = sock.dup()
        return sock

    def _expire(self) -> None:
        with self._guard:
            self.expired = True
            if self._connection is not None:
                with suppress(OSError):  # already closed by the server
                    self._connection.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Cancel the deadline and release the duplicate socket (call when the conversation is over)."""
        self._timer.cancel()
        with self._guard:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def send(message: EmailMessage, settings: EmailOptions, password: str | None) -> None:
    """Deliver over SMTP with STARTTLS (unless turned off), all of it within the smtp_timeout_seconds
    setting; every failure becomes an EmailError (exit 4)."""
    host, port, seconds = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    smtp = _TimedSMTP(seconds)
    try:
        _converse(smtp, message, settings, password)
    except EmailError:
        if smtp.expired:
            raise EmailError(
                f"{host}:{port} did not finish taking the email within {seconds:g} seconds (a server "
                "answering too slowly, or never completing its reply). Check the server, or raise "
                "smtp_timeout_seconds"
            ) from None
        raise
    finally:
        smtp.stop()
        smtp.close()


def _converse(smtp: _TimedSMTP, message: EmailMessage, settings: EmailOptions, password: str | None) -> None:
    """The SMTP conversation itself, its failures as EmailErrors."""
    host, port = settings.smtp_host, settings.smtp_port
    try:
        with smtp:
            code, greeting = smtp.connect(host, port)
            if code != 220:  # as smtplib.SMTP(host, port) checks the greeting
                raise smtplib.SMTPConnectError(code, greeting)
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
    except smtplib.SMTPRecipientsRefused as error:  # every recipient refused: its args hold a dict
        raise EmailError(
            f"{host}:{port} refused all {len(error.recipients)} recipient(s) "
            f"({', '.join(sorted(error.recipients))}); nobody was sent the email"
        ) from None
    except (ConnectionRefusedError, TimeoutError) as error:
        raise EmailError(
            f"could not connect to SMTP server {host}:{port}: {error.strerror or error}"
        ) from None
    except (smtplib.SMTPException, OSError) as error:
        raise EmailError(f"sending the email via {host}:{port} failed: {error}") from None
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
