"""HTTP actions on Rasa's action-server protocol, so an existing rasa-sdk server works unchanged.

The request is Rasa's `{next_action, sender_id, tracker, domain, version}` (built by
`bot.actions.rasa_request`); the answer's `events` and `responses` become an `ActionResult`.
Every request body is signed: `X-Bot-Signature: sha256=<hex HMAC-SHA256 of the body with
BOT_ACTIONS_SECRET>`.

An answer is read on a typed fast path that checks the shape rasa-sdk sends; anything else
goes through the pydantic model `RasaResponse`, which accepts it or says where it is wrong.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.actions.http_client import HttpClient, HttpError
from bot.actions.rasa_request import REQUESTED_SLOT
from bot.actions.results import ActionMessage, ActionResult, Validation

SIGNATURE_HEADER = "X-Bot-Signature"
_JSON = "application/json"


class ActionCallError(Exception):
    """An action server's answer is unusable; `outcome` says how the call is logged."""

    def __init__(self, message: str, outcome: str = "error", retryable: bool = True) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.retryable = retryable


def sign(body: bytes, secret: str) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str | None) -> bool:
    """What an action server does with the header: recompute and compare in constant time."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)


class Signer:
    """`sign` with the key prepared once: each body costs a copy of the keyed state."""

    def __init__(self, secret: str) -> None:
        self._keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def __call__(self, body: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(body)
        return "sha256=" + mac.hexdigest()


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class _Button(_Loose):
    title: str
    payload: str = ""


class _Message(_Loose):
    text: str | None = None
    buttons: list[_Button] | None = None
    image: str | None = None
    custom: dict[str, Any] | None = None
    response: str | None = None


class _Event(_Loose):
    event: str
    name: str | None = None
    value: Any = None


class RasaResponse(_Loose):
    """An action server's answer, as rasa-sdk sends it: the schema an answer is checked against."""

    events: list[_Event] = []
    responses: list[_Message] = []


@dataclass(frozen=True, slots=True)
class RasaEvent:
    event: str
    name: str | None
    value: Any


@dataclass(frozen=True, slots=True)
class RasaAnswer:
    """An answer that passed the schema: its events, and its responses that show something."""

    events: tuple[RasaEvent, ...] = ()
    messages: tuple[ActionMessage, ...] = ()


async def post(client: HttpClient, url: str, body: bytes, signer: Signer | None, limit: int) -> RasaAnswer:
    """POST a signed body and read at most `limit` bytes of the answer."""
    headers = {"Content-Type": _JSON, SIGNATURE_HEADER: signer(body)} if signer else {"Content-Type": _JSON}
    try:
        response = await client.post(url, body, headers, limit)
    except HttpError as exc:
        raise ActionCallError(str(exc)) from None
    status, data = response.status, response.body
    if status == 400:
        rejection = _json(data)
        if isinstance(rejection, dict) and "action_name" in rejection:  # rasa-sdk's ActionExecutionRejection
            raise ActionCallError(str(rejection.get("error", "rejected")), outcome="rejected", retryable=False)
    if status != 200:
        raise ActionCallError(f"HTTP {status} from the action server")
    if not data.strip() or data.strip() == b"null":
        return RasaAnswer()
    return read_answer(_json(data))


def _json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ActionCallError(f"response is not JSON: {data[:80]!r}") from None


def read_answer(parsed: Any) -> RasaAnswer:
    """The answer's events and messages, checked against `RasaResponse`."""
    answer = _fast(parsed)
    if answer is not None:
        return answer
    try:
        model = RasaResponse.model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ActionCallError(f"response is not Rasa's {{events, responses}}: {where}: {first['msg']}") from None
    events = tuple(RasaEvent(e.event, e.name, e.value) for e in model.events)
    messages = tuple(
        ActionMessage(
            text=m.text or "",
            buttons=tuple((b.title, b.payload or b.title) for b in m.buttons or ()),
            image=m.image,
            custom=m.custom,
        )
        for m in model.responses
        if m.text or m.buttons or m.image or m.custom
    )
    return RasaAnswer(events, messages)


def _optional_str(item: dict[str, Any], key: str) -> bool:
    value = item.get(key)
    return value is None or type(value) is str


def _fast(parsed: Any) -> RasaAnswer | None:
    """The answer, if it has exactly the shape `RasaResponse` accepts without coercion; None
    sends it to the model (which coerces or explains)."""
    if type(parsed) is not dict:
        return None
    raw_events = parsed.get("events", [])
    raw_responses = parsed.get("responses", [])
    if type(raw_events) is not list or type(raw_responses) is not list:
        return None
    events = []
    for e in raw_events:
        if type(e) is not dict or type(e.get("event")) is not str or not _optional_str(e, "name"):
            return None
        events.append(RasaEvent(e["event"], e.get("name"), e.get("value")))
    messages = []
    for m in raw_responses:
        if type(m) is not dict or not (
            _optional_str(m, "text") and _optional_str(m, "image") and _optional_str(m, "response")
        ):
            return None
        custom, raw_buttons = m.get("custom"), m.get("buttons")
        if not (custom is None or type(custom) is dict) or not (raw_buttons is None or type(raw_buttons) is list):
            return None
        buttons = []
        for b in raw_buttons or ():
            if type(b) is not dict or type(b.get("title")) is not str or type(b.get("payload", "")) is not str:
                return None
            buttons.append((b["title"], b.get("payload") or b["title"]))
        text, image = m.get("text"), m.get("image")
        if text or buttons or image or custom:
            messages.append(ActionMessage(text=text or "", buttons=tuple(buttons), image=image, custom=custom))
    return RasaAnswer(tuple(events), tuple(messages))


def to_result(answer: RasaAnswer) -> ActionResult:
    """Rasa's events and responses as an `ActionResult` (unknown events are ignored)."""
    slots: dict[str, Any] = {}
    reset = rejected = False
    followup: str | None = None
    handoff: str | None = None
    for event in answer.events:
        kind = event.event
        if kind == "slot" and event.name and event.name != REQUESTED_SLOT:
            slots[event.name] = event.value
        elif kind in ("reset_slots", "restart"):
            reset = True
            slots.clear()
        elif kind == "followup" and event.name:
            followup = event.name
        elif kind == "pause":  # Rasa's "a person takes over"
            handoff = "paused by action"
        elif kind == "action_execution_rejected":
            rejected = True
    return ActionResult(
        messages=answer.messages,
        set_slots=slots,
        reset_slots=reset,
        followup=followup,
        handoff=handoff,
        outcome="rejected" if rejected else "ok",
    )


def to_validation(answer: RasaAnswer, slot: str, value: Any) -> Validation:
    """A validation action's verdict: a `slot` event for the slot with None rejects it (its
    first text message says why), another value replaces it, no event accepts it as given."""
    verdict = [e for e in answer.events if e.event == "slot" and e.name == slot]
    if not verdict:
        return Validation.accept(value)
    if verdict[-1].value is None:
        return Validation.reject(next((m.text for m in answer.messages if m.text), None))
    return Validation.accept(verdict[-1].value)
