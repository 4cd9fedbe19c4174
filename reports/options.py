"""What the reports layer needs to know, as plain typed protocols: reports import nothing from
pipelines, and any object with these attributes (pipelines.settings.Settings among them) will do."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ReportOptions(Protocol):
    """The settings report.html, email.html and the worklists are written with."""

    out: Path
    clinic_name: str
    report_max_rows: int
    report_location: str
    small_count_threshold: int
    email_exact_counts: bool  # every recipient is clinic staff: exact counts in the email
    worklist_format: str  # csv | xlsx | both


class EmailOptions(Protocol):
    """The settings the summary email is built and sent with."""

    out: Path
    smtp_host: str
    smtp_port: int
    smtp_starttls: bool
    smtp_sender: str
    smtp_user: str
    smtp_recipients: tuple[str, ...]
    smtp_timeout_seconds: int  # the whole SMTP conversation, from connecting to the last reply
