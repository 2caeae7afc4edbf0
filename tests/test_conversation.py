"""The replies a connection keeps for resent client ids (`Conversation.remember`, `wire`, `replay`)."""

from __future__ import annotations

import orjson

from bot.conversation import ANSWERED_CACHE, Conversation, Principal
from bot.dialogue import State
from bot.protocol import Reply, Typing


def reply(text: str, client_id: str) -> Reply:
    return Reply(text=text, intent="hours", confidence=0.9, reply_to=client_id, message_id=1)


def test_a_reply_sent_is_replayed_as_a_duplicate_of_the_text_sent() -> None:
    conv = Conversation("s", Principal(), State(), resumed=False)
    first, second = reply("We open at 9.", "c1"), reply("Anything else?", "c1")
    conv.remember("c1", [first, second])
    sent = [conv.wire(Typing(reply_to="c1")), conv.wire(first), conv.wire(second)]
    assert orjson.loads(sent[1])["text"] == "We open at 9." and orjson.loads(sent[0])["type"] == "typing"
    conv.remember("c2", [reply("Bye.", "c2")])  # the next message
    replayed = conv.replay("c1")
    assert replayed is not None
    assert [r.text for r in replayed] == ["We open at 9.", "Anything else?"]
    assert all(r.duplicate for r in replayed)
    assert [r.model_dump_json() for r in replayed] == [
        t.replace('"duplicate":false', '"duplicate":true') for t in sent[1:]
    ]


def test_replies_never_sent_are_replayed_too() -> None:
    """Stored replies read back on a resumed session are remembered without being sent."""
    conv = Conversation("s", Principal(), State(), resumed=True)
    for i in range(3):
        conv.remember(f"c{i}", [reply(f"answer {i}", f"c{i}")])
    assert conv.has_answered("c0") and not conv.has_answered("c9")
    for i in range(3):
        replayed = conv.replay(f"c{i}")
        assert replayed is not None and [(r.text, r.duplicate) for r in replayed] == [(f"answer {i}", True)]
    assert conv.replay(None) is None and conv.replay("c9") is None


def test_only_the_latest_client_ids_are_kept() -> None:
    conv = Conversation("s", Principal(), State(), resumed=False)
    for i in range(ANSWERED_CACHE + 2):
        conv.remember(f"c{i}", [reply("ok", f"c{i}")])
    assert not conv.has_answered("c0") and not conv.has_answered("c1")
    assert conv.has_answered("c2") and conv.has_answered(f"c{ANSWERED_CACHE + 1}")
