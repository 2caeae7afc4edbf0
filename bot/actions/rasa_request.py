"""The body Rasa POSTs to an action server, `{next_action, sender_id, tracker, domain, version}`,
encoded for one call at a time.

The domain part is the same for every call of a loaded model: it is encoded once
(`RasaDomain.of`) and spliced into each body as bytes. Only the tracker is built per call, as
the dicts orjson encodes and nothing more.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from bot.actions.view import TurnView
from bot.domain import Domain

RASA_VERSION = "3.10.0"
"""The Rasa version the requests claim to come from (rasa-sdk only warns on a mismatch)."""
REQUESTED_SLOT = "requested_slot"
_LISTEN = "action_listen"


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


@dataclass(frozen=True, slots=True)
class RasaDomain:
    """A domain's part of every request, encoded once per loaded model."""

    encoded: bytes
    """`,"domain":{...}}`: what closes a body whose other keys are encoded per call."""
    slots: tuple[str, ...]
    """Every slot the tracker lists (the domain's and `requested_slot`)."""

    @classmethod
    def of(cls, domain: Domain) -> RasaDomain:
        rasa = rasa_domain(domain)
        return cls(b',"domain":' + orjson.dumps(rasa) + b"}", tuple(rasa["slots"]))


def encode_request(name: str, view: TurnView, domain: RasaDomain, candidate: tuple[str, Any] | None = None) -> bytes:
    """The body Rasa would POST to run `name`; with a `candidate` (slot, value), the tracker
    ends in that slot's `slot` event, where a form validation action looks for it."""
    now = time.time()
    latest = {
        "text": view.text,
        "intent": {"name": view.intent, "confidence": view.confidence},
        "intent_ranking": [{"name": i, "confidence": c} for i, c in view.ranking],
        "entities": [
            {
                "entity": e.entity,
                "value": e.value,
                "start": e.start,
                "end": e.end,
                "text": e.text,
                "confidence_entity": e.confidence,
                "extractor": e.source,
            }
            for e in view.entities
        ],
        "message_id": None,
        "metadata": {"language": view.language, "correcting": view.correcting},
    }
    slots = dict.fromkeys(domain.slots)
    slots.update(view.slots)
    slots[REQUESTED_SLOT] = view.requested_slot
    events: list[dict[str, Any]] = []
    if view.active_form:
        events.append({"event": "active_loop", "timestamp": now, "name": view.active_form})
    if view.requested_slot:
        events.append({"event": "slot", "timestamp": now, "name": REQUESTED_SLOT, "value": view.requested_slot})
    events.append({"event": "action", "timestamp": now, "name": _LISTEN})
    events.append({"event": "user", "timestamp": now, "text": view.text, "parse_data": latest})
    if candidate is not None:
        slots[candidate[0]] = candidate[1]
        events.append({"event": "slot", "timestamp": now, "name": candidate[0], "value": candidate[1]})
    head = orjson.dumps(
        {
            "next_action": name,
            "sender_id": view.session_id,
            "version": RASA_VERSION,
            "tracker": {
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
                "latest_action": {"action_name": _LISTEN},
                "latest_action_name": _LISTEN,
            },
        },
        default=str,
    )
    return head[:-1] + domain.encoded
