"""Actions: the bot's calls into the business's own code (Python functions or Rasa-style
action servers). Importing this package loads only light value types; see docs/actions.md."""

from bot.actions.authoring import EndSession, Followup, Handoff, Reject, Reply, ResetSlots, SetSlot, Step
from bot.actions.results import ActionMessage, ActionResult, Link, Outcome, Validation
from bot.actions.view import TurnView

__all__ = [
    "ActionMessage",
    "ActionResult",
    "EndSession",
    "Followup",
    "Handoff",
    "Link",
    "Outcome",
    "Reject",
    "Reply",
    "ResetSlots",
    "SetSlot",
    "Step",
    "TurnView",
    "Validation",
]
