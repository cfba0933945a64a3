"""The one error type a user can act on, which every boundary shows and nothing else.

A :class:`UserError` says in one sentence what is wrong with something the user gave (a file,
an upload, an option, a message from the page), naming the file, field or limit. The CLI
prints it and exits with 2, the API answers it with a 4xx, a job fails with it and a live
session tells the client. Any other exception is a bug: every boundary logs it with its trace
and tells the user only that the tutor failed.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; the message is one sentence saying what."""


class NoAlignmentError(UserError):
    """No alignment of an attempt with a reference fits the tempo limits and the band: the
    attempt is far shorter or longer than the reference."""
