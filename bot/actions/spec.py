"""An action's declaration in `intents.yaml` (`actions:`), parsed and checked by pydantic."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

_PYTHON_REF = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$")
DEFAULT_ACTIONS_FAILED = "Sorry, I couldn't do that just now. Please try again in a moment."


class ActionSpec(BaseModel):
    """`python: module:function`, or `url:` of a server speaking Rasa's action protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python: str | None = None
    """`module:function`; the module is imported from the directory of intents.yaml."""
    url: str | None = None
    timeout: float = Field(default=2.0, gt=0, le=60)
    """Seconds a call may take, waiting for a free slot and a retry included."""
    idempotent: bool = False
    """Safe to call twice: only then is a failed call retried (once, within `timeout`)."""
    failures: int = Field(default=5, ge=1)
    """Consecutive failures that open the circuit breaker."""
    cooldown: float = Field(default=30.0, gt=0)
    """Seconds an open breaker fails calls at once before letting one through to try."""
    concurrency: int = Field(default=100, ge=1)
    """Calls of this action at the same time; more wait (within their timeout). 100 lets a
    20 ms action take 5,000 calls a second, above what one bot process answers, so calls
    overlap instead of queueing; lower it for a server that cannot take that many."""

    @field_validator("python")
    @classmethod
    def _module_function(cls, value: str | None) -> str | None:
        if value is not None and not _PYTHON_REF.match(value):
            raise ValueError(f"'{value}' is not module:function, e.g. actions.shop:order_status")
        return value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"'{value}' is not an http:// or https:// URL with a host")
        return value

    @property
    def kind(self) -> str:
        return "python" if self.python else "http"
