"""HTTP actions on Rasa's action-server protocol, so an existing rasa-sdk server works unchanged.

The request is Rasa's `{next_action, sender_id, tracker, domain, version}`; the answer's
`events` and `responses` become an `ActionResult`. Every request body is signed:
`X-Bot-Signature: sha256=<hex HMAC-SHA256 of the body with BOT_ACTIONS_SECRET>`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.actions.http_client import HttpClient, HttpError
from bot.actions.results import ActionMessage, ActionResult, Validation
from bot.actions.view import TurnView
from bot.domain import Domain

SIGNATURE_HEADER = "X-Bot-Signature"
RASA_VERSION = "3.10.0"
"""The Rasa version the requests claim to come from (rasa-sdk only warns on a mismatch)."""
REQUESTED_SLOT = "requested_slot"


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
    """An action server's answer, as rasa-sdk sends it."""

    events: list[_Event] = []
    responses: list[_Message] = []


def rasa_domain(domain: Domain) -> dict[str, Any]:
    """Our domain as Rasa's: every intent with slots is a form whose required slots they are,
    which is what rasa-sdk's `FormValidationAction` reads."""
    slots: dict[str, Any] = {
        name: {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}
        for name in domain.slots
    }
    slots[REQUESTED_SLOT] = {"type": "any", "influence_conversation": False, "mappings": [{"type": "custom"}]}
    return {
        "version": "3.1",
        "config": {"store_entities_as_slots": False},
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
        "intents": list(domain.intents),
        "entities": list(domain.entities),
        "slots": slots,
        "responses": {},
        "actions": list(domain.actions),
        "forms": {name: {"required_slots": list(i.slots)} for name, i in domain.intents.items() if i.slots},
    }


def rasa_request(
    name: str, view: TurnView, domain_json: dict[str, Any], candidate: tuple[str, Any] | None = None
) -> dict[str, Any]:
    """The body Rasa would POST to run `name`; with a `candidate` (slot, value), the tracker
    ends in that slot's `slot` event, where a form validation action looks for it."""
    now = time.time()
    ranking = [{"name": i, "confidence": c} for i, c in view.ranking]
    latest = {
        "text": view.text,
        "intent": {"name": view.intent, "confidence": view.confidence},
        "intent_ranking": ranking,
        "entities": [{**e.as_dict(), "confidence_entity": e.confidence, "extractor": e.source} for e in view.entities],
        "message_id": None,
        "metadata": {"language": view.language},
    }
    slots = dict.fromkeys(domain_json["slots"])
    slots.update(view.slots)
    slots[REQUESTED_SLOT] = view.requested_slot
    events: list[dict[str, Any]] = []
    if view.active_form:
        events.append({"event": "active_loop", "timestamp": now, "name": view.active_form})
    if view.requested_slot:
        events.append({"event": "slot", "timestamp": now, "name": REQUESTED_SLOT, "value": view.requested_slot})
    events.append({"event": "action", "timestamp": now, "name": "action_listen"})
    events.append({"event": "user", "timestamp": now, "text": view.text, "parse_data": latest})
    if candidate is not None:
        slots[candidate[0]] = candidate[1]
        events.append({"event": "slot", "timestamp": now, "name": candidate[0], "value": candidate[1]})
    tracker = {
        "sender_id": view.session_id,
        "user_id": None if view.user_id is None else str(view.user_id),
        "slots": slots,
        "latest_message": latest,
        "latest_event_time": now,
        "followup_action": None,
        "paused": False,
        "events": events,
        "latest_input_channel": "websocket",
        "active_loop": {"name": view.active_form} if view.active_form else {},
        "latest_action": {"action_name": "action_listen"},
        "latest_action_name": "action_listen",
    }
    return {
        "next_action": name,
        "sender_id": view.session_id,
        "tracker": tracker,
        "domain": domain_json,
        "version": RASA_VERSION,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload, default=str)


async def post(client: HttpClient, url: str, body: bytes, secret: str | None, limit: int) -> RasaResponse:
    """POST a signed body and read at most `limit` bytes of the answer."""
    headers = {"Content-Type": "application/json"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        response = await client.post(url, body, headers, limit)
    except HttpError as exc:
        raise ActionCallError(str(exc)) from None
    status, data = response.status, response.body
    if status == 400:
        rejection = _json(bytes(data))
        if isinstance(rejection, dict) and "action_name" in rejection:  # rasa-sdk's ActionExecutionRejection
            raise ActionCallError(str(rejection.get("error", "rejected")), outcome="rejected", retryable=False)
    if status != 200:
        raise ActionCallError(f"HTTP {status} from the action server")
    if not data.strip() or bytes(data).strip() == b"null":
        return RasaResponse()
    parsed = _json(bytes(data))
    try:
        return RasaResponse.model_validate(parsed)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ActionCallError(f"response is not Rasa's {{events, responses}}: {where}: {first['msg']}") from None


def _json(data: bytes) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ActionCallError(f"response is not JSON: {data[:80]!r}") from None


def to_result(response: RasaResponse) -> ActionResult:
    """Rasa's events and responses as an `ActionResult` (unknown events are ignored)."""
    slots: dict[str, Any] = {}
    reset = rejected = False
    followup: str | None = None
    handoff: str | None = None
    for event in response.events:
        if event.event == "slot" and event.name and event.name != REQUESTED_SLOT:
            slots[event.name] = event.value
        elif event.event in ("reset_slots", "restart"):
            reset = True
            slots.clear()
        elif event.event == "followup" and event.name:
            followup = event.name
        elif event.event == "pause":  # Rasa's "a person takes over"
            handoff = "paused by action"
        elif event.event == "action_execution_rejected":
            rejected = True
    messages = tuple(_message(m) for m in response.responses if m.text or m.buttons or m.image or m.custom)
    return ActionResult(
        messages=messages,
        set_slots=slots,
        reset_slots=reset,
        followup=followup,
        handoff=handoff,
        outcome="rejected" if rejected else "ok",
    )


def _message(message: _Message) -> ActionMessage:
    return ActionMessage(
        text=message.text or "",
        buttons=tuple((b.title, b.payload or b.title) for b in message.buttons or ()),
        image=message.image,
        custom=message.custom,
    )


def to_validation(response: RasaResponse, slot: str, value: Any) -> Validation:
    """A validation action's verdict: a `slot` event for the slot with None rejects it (its
    first text message says why), another value replaces it, no event accepts it as given."""
    verdict = [e for e in response.events if e.event == "slot" and e.name == slot]
    if not verdict:
        return Validation.accept(value)
    if verdict[-1].value is None:
        message = next((m.text for m in response.responses if m.text), None)
        return Validation.reject(message)
    return Validation.accept(verdict[-1].value)
