"""A tiny rasa-sdk actions package, served by the real `python -m rasa_sdk` in tests/test_actions_rasa.py."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import AllSlotsReset, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection
from rasa_sdk.types import DomainDict


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        order = tracker.get_slot("order_id")
        entity = next(tracker.get_latest_entity_values("order_number"), None)
        dispatcher.utter_message(
            text=f"Order {order} ({entity}) for {tracker.sender_id}, intent {tracker.get_intent_of_latest_message()}",
            buttons=[{"title": "Cancel it", "payload": "/cancel_order"}],
            image="https://example.org/parcel.png",
        )
        dispatcher.utter_message(json_message={"card": "order", "id": order})
        return [SlotSet("status", "dispatched"), FollowupAction("feedback")]


class ActionStartOver(Action):
    def name(self) -> str:
        return "action_start_over"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        dispatcher.utter_message(text="Starting over.")
        return [AllSlotsReset()]


class ActionRefuse(Action):
    def name(self) -> str:
        return "action_refuse"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        raise ActionExecutionRejection(self.name(), "not today")


class ValidateBookAppointment(FormValidationAction):
    def name(self) -> str:
        return "validate_book_appointment"

    def validate_date(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if str(slot_value).lower() == "sunday":
            dispatcher.utter_message(text="We're closed on Sundays; pick another day.")
            return {"date": None}
        return {"date": str(slot_value).capitalize()}
