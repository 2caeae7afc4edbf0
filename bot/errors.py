"""The one base for errors a client is told about: each carries its protocol `code`.

The transport turns any `ClientError` into an `error` frame (or an HTTP answer) with this
code and message, so a new error needs no new `except` at the edge.
"""

from __future__ import annotations


class ClientError(Exception):
    """Something the client can act on; `code` names it in the error frame (docs/protocol.md)."""

    code = "internal"

    def __init__(self, detail: str, reply_to: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.reply_to = reply_to
