"""Rendering of audit results: HTML reports, the email-safe summary and CSV worklists.

Templates receive plain data (dicts and dataclasses), never a database connection.
"""
