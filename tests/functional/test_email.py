"""The summary email against a real SMTP server on 127.0.0.1 (aiosmtpd), and the dry run."""

from __future__ import annotations

import email
import email.policy
import re
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from pipelines.errors import EXIT_EMAIL
from tests.conftest import SAMPLE_EXPORT
from tests.helpers import cli

PATIENT_ID = re.compile(r"\bP\d{4}\b")
RECIPIENTS = "audit-lead@clinic.example,gp@clinic.example"


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this hook by name
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def run_args(tmp, *extra: str) -> list[str]:
    out, db = str(tmp / "out"), str(tmp / "a.duckdb")
    return ["run", "--exports", str(SAMPLE_EXPORT), "--out", out, "--db", db, "--as-of", "2026-11-20", *extra]


def smtp_env(port: int, **more: str) -> dict[str, str]:
    return {
        "CLINIC_AUDIT_SMTP_HOST": "127.0.0.1",
        "CLINIC_AUDIT_SMTP_PORT": str(port),
        "CLINIC_AUDIT_SMTP_SENDER": "clinic-audit@clinic.example",
        "CLINIC_AUDIT_SMTP_RECIPIENTS": RECIPIENTS,
        "CLINIC_AUDIT_SMTP_STARTTLS": "false",  # the test server has no certificate
        "CLINIC_AUDIT_CLINIC_NAME": "Riverside Practice",
        "CLINIC_AUDIT_REPORT_LOCATION": "\\\\fileserver\\audit\\report.html",
        **more,
    }


def test_summary_arrives_with_both_parts_and_no_patient_id(tmp_path, smtp_server):
    inbox, port = smtp_server
    assert cli(*run_args(tmp_path, "--email", "--scheduled"), env=smtp_env(port)) == 0  # the nightly
    [(rcpt, raw)] = inbox.received
    assert rcpt == RECIPIENTS.split(",")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert re.fullmatch(  # the headline's counts in the subject (#20)
        r"Riverside Practice: [\d,]+ need action, ([\d,]+|1–7) new, ([\d,]+|1–7) high priority "
        r"\(audit as of 2026-11-20\)",
        message["Subject"],
    ), message["Subject"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Full report: \\\\fileserver\\audit\\report.html" in text
    assert 'href="file://fileserver/audit/report.html"' in html  # a UNC path, as a link Outlook opens
    assert "Muscle cramps in cirrhosis" in html
    assert not PATIENT_ID.search(raw.decode("utf-8", "replace") + text + html)


def test_refused_connection_exits_4_with_a_clear_message(tmp_path, capsys):
    code = cli(*run_args(tmp_path, "--email"), env=smtp_env(free_port()))
    assert code == EXIT_EMAIL == 4
    said = capsys.readouterr()
    assert "could not connect to SMTP server 127.0.0.1" in said.err
    assert "the summary email was not sent" in said.err and "its outputs are written" in said.err
    assert (tmp_path / "out" / "report.html").exists()  # the run itself succeeded: its outputs,
    assert (tmp_path / "a.analyst.duckdb").exists()  # the analysts' copy and its printed outcome
    assert "clinic-audit run " in said.out


def refuse_everyone(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=False, handled=False)


def test_refused_login_exits_4(tmp_path, capsys):
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=free_port(),
        auth_require_tls=False,
        authenticator=refuse_everyone,
    )
    controller.start()
    try:
        env = smtp_env(controller.port, CLINIC_AUDIT_SMTP_PASSWORD="wrong")
        assert cli(*run_args(tmp_path, "--email"), env=env) == EXIT_EMAIL
    finally:
        controller.stop()
    err = capsys.readouterr().err
    assert "SMTP login to 127.0.0.1" in err and "CLINIC_AUDIT_SMTP_PASSWORD" in err
    assert "wrong" not in err


def test_starttls_required_by_default(tmp_path, smtp_server, capsys):
    _, port = smtp_server
    env = smtp_env(port)
    del env["CLINIC_AUDIT_SMTP_STARTTLS"]
    assert cli(*run_args(tmp_path, "--email"), env=env) == EXIT_EMAIL
    assert "does not offer STARTTLS" in capsys.readouterr().err


def test_a_password_for_a_server_offering_no_login_says_so_not_starttls(tmp_path, smtp_server, capsys):
    """smtp_starttls is already false and the server offers no AUTH: the message blamed STARTTLS
    (smtplib raises the same SMTPNotSupportedError for both) and advised what was already set."""
    _, port = smtp_server
    env = smtp_env(port, CLINIC_AUDIT_SMTP_PASSWORD="secret")
    assert cli(*run_args(tmp_path, "--email"), env=env) == EXIT_EMAIL
    err = capsys.readouterr().err
    assert "offers no login (SMTP AUTH)" in err and "CLINIC_AUDIT_SMTP_PASSWORD" in err
    assert "does not offer STARTTLS" not in err and "secret" not in err


def test_dry_run_writes_an_eml_file(tmp_path):
    assert cli(*run_args(tmp_path, "--email-dry-run"), env=smtp_env(free_port())) == 0
    eml = tmp_path / "out" / "email.eml"
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == RECIPIENTS.replace(",", ", ")
    assert {p.get_content_type() for p in message.iter_parts()} == {"text/plain", "text/html"}
    assert eml.stat().st_mode & 0o077 == 0


def test_an_ad_hoc_runs_email_says_it_is_not_tonights_audit(tmp_path, smtp_server):
    """run_args' --as-of 2026-11-20 is not today: an analyst's run, whose email says so first."""
    inbox, port = smtp_server
    assert cli(*run_args(tmp_path, "--email"), env=smtp_env(port)) == 0
    [(_, raw)] = inbox.received
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    note = "Ad-hoc run (--as-of 2026-11-20): an analyst's question, not tonight's audit."
    assert text.splitlines()[1] == note  # right under the headline
    assert message["Subject"].startswith("[ad hoc] Riverside Practice: ")  # the inbox says so too
    assert "Ad-hoc run (--as-of 2026-11-20)" in html.split("</p>", 1)[0]
    # the run's own email.html says so too (the note is the email's content, not patched in on sending)
    assert note in (tmp_path / "out" / "email.html").read_text(encoding="utf-8").split("</p>", 1)[0]


class RefusingInbox(Inbox):
    """Refuses one recipient (550, as for a mailbox that does not exist) and takes the others."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gp@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class RefusingAll(Inbox):
    """Refuses every recipient (550)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 mailbox unavailable"


def test_every_recipient_refused_is_exit_4_in_words(tmp_path, capsys):
    """smtplib raises when every recipient is refused, its message a Python dict of codes: exit 4
    saying who was refused and that nobody got it, no dict."""
    controller = Controller(RefusingAll(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        assert cli(*run_args(tmp_path, "--email"), env=smtp_env(controller.port)) == EXIT_EMAIL
    finally:
        controller.stop()
    err = capsys.readouterr().err
    assert "refused all 2 recipient(s) (audit-lead@clinic.example, gp@clinic.example)" in err, err
    assert "nobody was sent the email" in err and "{" not in err and "Traceback" not in err


def test_a_recipient_refused_is_exit_4_naming_it_and_the_next_night_warns(tmp_path, capsys):
    """smtplib returns the recipients a server refused rather than raise: the run said 'email sent
    to 2 recipient(s)', exit 0, and one lead never got it. Exit 4 naming the refused address; the
    email counts as not sent, so the next nightly run warns."""
    inbox = RefusingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        assert cli(*run_args(tmp_path, "--email", "--scheduled"), env=smtp_env(controller.port)) == EXIT_EMAIL
        err = capsys.readouterr().err
        assert "refused 1 of 2 recipient(s) (gp@clinic.example)" in err, err
        assert [rcpt for rcpt, _ in inbox.received] == [["audit-lead@clinic.example"]]
        args = run_args(tmp_path, "--email", "--scheduled")
        args[args.index("--as-of") + 1] = "2026-11-21"
        assert cli(*args, env=smtp_env(controller.port)) == EXIT_EMAIL  # still refused: said again
    finally:
        controller.stop()
    raw = inbox.received[-1][1].decode("utf-8", "replace")
    assert "did not send its summary email" in raw


def test_without_report_location_the_email_links_to_nothing_on_the_servers_disk(tmp_path, smtp_server):
    """README: a link to the report when report_location is set. Unset, the run filled it with the
    report's own path for the text, and the email's button linked to file:///<server folder>: dead on
    the recipient's machine. The location is then text only; set, it is the button's link."""
    _inbox, port = smtp_server
    env = {k: v for k, v in smtp_env(port).items() if k != "CLINIC_AUDIT_REPORT_LOCATION"}
    assert cli(*run_args(tmp_path, "--email"), env=env) == 0
    html = (tmp_path / "out" / "email.html").read_text(encoding="utf-8")
    assert 'class="button"' not in html and "file://" not in html
    assert "Full report:" in html and str(tmp_path / "out") in html  # where, for staff on the server
    link = "https://intranet.example/audit/report.html"
    env["CLINIC_AUDIT_REPORT_LOCATION"] = link
    assert cli(*run_args(tmp_path, "--email", "--as-of", "2026-11-21"), env=env) == 0
    html = (tmp_path / "out" / "email.html").read_text(encoding="utf-8")
    assert f'<a class="button" href="{link}"' in html
