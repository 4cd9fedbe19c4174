"""reports.email.send turns every failure into an EmailError (exit 4), however the settings reached it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.settings import load_settings, valid_value
from reports.email import build_message, send
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
        "smtp_timeout_seconds": 120,
    }
    return SimpleNamespace(**(base | more))


@pytest.mark.parametrize("host", ["smtp..example.org", f"{'a' * 64}.example.org"])
def test_a_host_name_idna_cannot_encode_is_an_email_error(host):
    """smtplib raises UnicodeError (a ValueError) for these before connecting: exit 4, not 1."""
    with pytest.raises(EmailError, match="smtp_host"):
        send(EmailMessage(), options(smtp_host=host), None)


PIECES = st.text(alphabet=st.sampled_from('ab.@[]<>()"\\ ,:;1-'), max_size=8)
ADDRESS_TEXT = st.one_of(
    PIECES,
    st.builds(
        "{}lead@{}{}".format,
        st.one_of(st.sampled_from(["", "Lead <", '"Lead, Dr" <', "(x) "]), PIECES),
        st.sampled_from(["x.org", "[10.0.0.1]", "[10.0.0.1", "x..org", "x"]),
        st.one_of(st.sampled_from(["", ">", " (y)"]), PIECES),
    ),
)


@settings(max_examples=300)  # about one list in twenty is taken
@given(st.lists(ADDRESS_TEXT, min_size=1, max_size=2), ADDRESS_TEXT)
def test_recipients_and_a_sender_the_settings_take_build_a_message(recipients, sender):
    """The settings read addresses with the email package's own parser, so none they take can fail
    when the message is built (lead@[10.0.0.1 raised AttributeError there)."""
    if not valid_value("smtp_recipients", recipients):
        return
    taken = load_settings(
        None,
        {},
        {"smtp_recipients": recipients, "smtp_sender": sender if valid_value("smtp_sender", sender) else ""},
    )
    reports = SimpleNamespace(
        email=SimpleNamespace(subject="audit"), email_plain_text="text", email_html_text="<p>html</p>"
    )
    build_message(reports, taken.smtp_sender, taken.smtp_recipients).as_string()


@contextmanager
def slow_server(talk: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A real TCP server on 127.0.0.1 that runs `talk` on each connection; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=lambda c=conn: _closing(c, talk, stop), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


def _closing(conn: socket.socket, talk: Callable[[socket.socket, threading.Event], None], stop) -> None:
    with conn, suppress(OSError):
        talk(conn, stop)


def trickle_a_greeting_for_ever(conn: socket.socket, stop: threading.Event) -> None:
    """A multi-line 220 reply, a byte every 0.2 s, never ended: every read returns in time."""
    while not stop.is_set():
        for byte in b"220-slow\r\n":
            if stop.wait(0.2):
                return
            conn.sendall(bytes([byte]))


def stall_in_the_tls_handshake(conn: socket.socket, stop: threading.Event) -> None:
    """Greets, offers STARTTLS, takes it, then answers the TLS handshake with silence."""
    reader = conn.makefile("rb")
    conn.sendall(b"220 slow ESMTP\r\n")
    reader.readline()  # EHLO
    conn.sendall(b"250-slow\r\n250 STARTTLS\r\n")
    reader.readline()  # STARTTLS
    conn.sendall(b"220 go ahead\r\n")
    stop.wait(60)


@pytest.mark.parametrize(
    ("talk", "starttls"),
    [(trickle_a_greeting_for_ever, False), (stall_in_the_tls_handshake, True)],
    ids=["trickled greeting", "silent TLS handshake"],
)
def test_the_whole_conversation_ends_at_its_deadline(talk, starttls):
    """smtplib's timeout is per read: a trickle held the run (and its lock) for ever. At the deadline
    the connection is shut down, under TLS too, and the email is not sent: exit 4."""
    with slow_server(talk) as port:
        started = time.monotonic()
        with pytest.raises(EmailError, match="within 2 seconds") as raised:
            send(
                EmailMessage(), options(smtp_port=port, smtp_starttls=starttls, smtp_timeout_seconds=2), None
            )
        # the same words serve a failed night's email: nothing says the run succeeded
        assert "did not finish taking the email" in str(raised.value) and "outputs" not in str(raised.value)
        assert time.monotonic() - started < 10


def test_a_conversation_within_its_deadline_is_unaffected():
    """A server that answers in time: the deadline's timer is cancelled and nothing is cut."""

    def prompt(conn: socket.socket, stop: threading.Event) -> None:
        reader = conn.makefile("rb")
        conn.sendall(b"220 ok\r\n")
        for line in iter(reader.readline, b""):
            if line.upper().startswith(b"DATA"):
                conn.sendall(b"354 go\r\n")
                while reader.readline() not in (b".\r\n", b""):
                    pass
                conn.sendall(b"250 queued\r\n")
            elif line.upper().startswith(b"QUIT"):
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    message = EmailMessage()
    message["From"], message["To"] = "audit@example.org", "lead@example.org"
    message.set_content("hello")
    before = threading.active_count()
    with slow_server(prompt) as port:
        send(message, options(smtp_port=port, smtp_timeout_seconds=2), None)
        time.sleep(2.5)  # past the deadline: a timer left running would cut nothing, and must be gone
    assert threading.active_count() <= before + 1  # the server's own accept loop may still be ending
