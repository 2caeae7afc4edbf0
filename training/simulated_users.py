"""What simulated users say (`training.simulate`): the domain's examples a bit perturbed, answers
to the forms' questions, off-topic messages and ways out of a form, from the domain alone.
"""

from __future__ import annotations

import random
from typing import Any

from bot.domain import Domain, Intent
from bot.understanding import OOS

OUT_OF_SCOPE = {
    "en": [
        "what's the weather like tomorrow",
        "tell me a joke",
        "who won the football last night",
        "asdfgh",
        "can you recommend a good pizza place",
        "what is the meaning of life",
        "how tall is mount everest",
        "play some music",
        "do you like cats",
        "translate hello into french",
    ],
    "ru": [
        "какая завтра погода",
        "расскажи анекдот",
        "кто выиграл матч вчера",
        "фывапр",
        "посоветуй хорошую пиццерию",
        "в чём смысл жизни",
        "включи музыку",
        "ты любишь кошек",
    ],
}
NAMES = {
    "en": ["Alex", "Maria Lopez", "Sam", "John Smith", "Priya", "Chen Wei"],
    "ru": ["Анна", "Иван Петров", "Ольга", "Дмитрий"],
}
UNSURE = {"en": ["not sure", "hmm, let me check", "i don't know"], "ru": ["не знаю", "сейчас посмотрю"]}
ANSWER_TEMPLATES = {"en": ["{}", "{}", "{}", "it's {}", "{} please"], "ru": ["{}"]}


def perturb(text: str, rng: random.Random) -> str:
    """Make an example look typed by a person: lower case, a dropped word, a typo (or none)."""
    if rng.random() < 0.3:
        text = text.lower()
    words = text.split()
    if len(words) > 3 and rng.random() < 0.2:
        droppable = [i for i, w in enumerate(words) if not any(ch.isdigit() for ch in w)]
        if droppable:
            del words[rng.choice(droppable)]
    if rng.random() < 0.2:
        typo = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if typo:
            i = rng.choice(typo)
            j = rng.randrange(1, len(words[i]) - 2)
            w = words[i]
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


class Speaker:
    """Chooses what a simulated user says next, from the domain alone."""

    def __init__(self, domain: Domain, rng: random.Random) -> None:
        self.domain, self.rng = domain, rng
        self.lang = domain.language if domain.language in OUT_OF_SCOPE else "en"
        self.questions = {q: (form, slot) for form in domain.intents.values() for slot, q in form.slots.items()}
        answerable = list(domain.answerable.values())
        self.topics: list[Intent] = [i for i in answerable for _ in range(2 if i.slots else 1)]
        self.mentions: dict[str, list[str]] = {}
        for intent in domain.intents.values():
            for example in intent.examples:
                for ann in example.entities:
                    self.mentions.setdefault(ann.entity, []).append(ann.text)

    def example(self, intent: Intent) -> str:
        return perturb(self.rng.choice(intent.examples).text, self.rng)

    def out_of_scope(self) -> str:
        pool = [e.text for e in self.domain.intents[OOS].examples] if OOS in self.domain.intents else []
        return perturb(self.rng.choice(pool + OUT_OF_SCOPE[self.lang]), self.rng)

    def cancel(self) -> tuple[str, str] | None:
        """Something that cancels a form, and the intent it is an example of."""
        cancels = [self.domain.intents[n] for n in self.domain.forms.cancel_intents if n in self.domain.intents]
        if not cancels:
            return None
        intent = self.rng.choice(cancels)
        return self.example(intent), intent.name

    def asked(self, replies: list[dict[str, Any]]) -> tuple[Intent, str] | None:
        """The form and slot the bot's last reply asks for, if it asks one."""
        if not replies:
            return None
        text = replies[-1].get("text", "")
        for question, (form, slot) in self.questions.items():
            if text.endswith(question):
                return form, slot
        return None

    def answer(self, form: Intent, slot: str) -> str:
        """A value for a slot: an entity text from the form's examples, a value or synonym, a name."""
        spec = self.domain.slots[slot]
        own = [a.text for e in form.examples for a in e.entities if a.entity == spec.entity]
        pool = own if own and self.rng.random() < 0.5 else []
        entity = self.domain.entities.get(spec.entity or "")
        if not pool and entity is not None:
            pool = [v for canonical, synonyms in entity.values.items() for v in (canonical, *synonyms)]
            pool = pool or self.mentions.get(spec.entity or "", [])
            if not pool and entity.builtin == "email":
                pool = [f"{n.split()[0].lower()}@example.com" for n in NAMES["en"]]
            elif not pool and entity.builtin == "number":
                pool = [str(self.rng.randint(1, 20))]
        if not pool and spec.type == "text":
            pool = NAMES[self.lang]
        if not pool:
            return self.rng.choice(UNSURE[self.lang])
        return self.rng.choice(ANSWER_TEMPLATES[self.lang]).format(self.rng.choice(pool))
