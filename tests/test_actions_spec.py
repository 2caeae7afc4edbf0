"""`actions:`, `action:` and `validate:` in intents.yaml: parsed, and every mistake named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.actions.spec import DEFAULT_ACTIONS_FAILED
from bot.domain import DomainError, parse_domain
from training.fit import main as fit

BASE = """\
slots:
  order_id: {type: text}
actions:
  lookup: {python: 'shop:lookup'}
  hook: {url: 'http://127.0.0.1:5055/hook', timeout: 1.5, idempotent: true, failures: 3, cooldown: 10, concurrency: 4}
intents:
  track:
    examples: [where is my order, track it]
    slots: {order_id: "Which order?"}
    action: lookup
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DomainError) as info:
        parse_domain(text, source="intents.yaml")
    return str(info.value).splitlines()


def test_actions_parse_with_their_defaults() -> None:
    domain = parse_domain(BASE)
    lookup, hook = domain.actions["lookup"], domain.actions["hook"]
    assert (lookup.python, lookup.timeout, lookup.idempotent, lookup.failures, lookup.cooldown, lookup.concurrency) == (
        "shop:lookup",
        2.0,
        False,
        5,
        30.0,
        100,
    )
    assert (hook.url, hook.timeout, hook.idempotent, hook.failures, hook.cooldown, hook.concurrency) == (
        "http://127.0.0.1:5055/hook",
        1.5,
        True,
        3,
        10.0,
        4,
    )
    assert domain.intents["track"].action == "lookup"
    assert domain.intents["track"].responses == ()  # an action needs no responses
    assert domain.actions_failed == DEFAULT_ACTIONS_FAILED


def test_a_domain_level_failure_message_and_a_slot_validator() -> None:
    text = BASE.replace("  order_id: {type: text}", "  order_id: {type: text, validate: hook}")
    domain = parse_domain(text + 'actions_failed: "Our systems are down."\n')
    assert domain.slots["order_id"].validator == "hook"
    assert domain.actions_failed == "Our systems are down."


def test_unknown_action_names_are_reported_with_the_line_and_intent() -> None:
    text = BASE.replace("    action: lookup", "    action: lokup").replace(
        "  order_id: {type: text}", "  order_id: {type: text, validate: chek}"
    )
    assert problems(text) == [
        "intents.yaml:2: slot 'order_id' is validated by unknown action 'chek' (actions: hook, lookup)",
        "intents.yaml:10: intent 'track': runs unknown action 'lokup' (actions: hook, lookup)",
    ]


def test_an_action_is_python_or_http_never_both_or_neither() -> None:
    text = BASE.replace("{python: 'shop:lookup'}", "{python: 'shop:lookup', url: 'http://x/'}")
    text = text.replace("intents:\n", "  empty: {timeout: 1}\nintents:\n")
    assert problems(text) == [
        "intents.yaml:4: action 'lookup' has both `python:` and `url:`; give exactly one",
        "intents.yaml:6: action 'empty' has neither `python:` nor `url:`; give exactly one",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "url: 'ftp://x/y'",
            "intents.yaml:5: actions.hook.url: Value error, 'ftp://x/y' is not an http:// or https:// URL with a host",
        ),
        (
            "url: 'http:///p'",
            "intents.yaml:5: actions.hook.url: Value error, 'http:///p' is not an http:// or https:// URL with a host",
        ),
        ("url: 'http://h/', timeout: 0", "intents.yaml:5: actions.hook.timeout: Input should be greater than 0"),
        (
            "url: 'http://h/', timeout: 600",
            "intents.yaml:5: actions.hook.timeout: Input should be less than or equal to 60",
        ),
        (
            "url: 'http://h/', timeout: soon",
            "intents.yaml:5: actions.hook.timeout: Input should be a valid number, unable to parse string as a number",
        ),
        ("url: 'http://h/', retries: 3", "intents.yaml:5: actions.hook.retries: unknown key"),
    ],
)
def test_a_bad_url_or_timeout_names_the_line(change: str, message: str) -> None:
    text = BASE.replace(
        "url: 'http://127.0.0.1:5055/hook', timeout: 1.5, idempotent: true, failures: 3, cooldown: 10, concurrency: 4",
        change,
    )
    assert problems(text) == [message]


def test_a_python_reference_must_be_module_colon_function() -> None:
    assert problems(BASE.replace("'shop:lookup'", "'shop.lookup'")) == [
        "intents.yaml:4: actions.lookup.python: Value error, "
        "'shop.lookup' is not module:function, e.g. actions.shop:order_status"
    ]


def test_fit_check_reports_an_action_that_cannot_be_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "intents.yaml"
    module = f"shop_{tmp_path.name.replace('-', '_')}"
    path.write_text(BASE.replace("shop:lookup", f"{module}:lookup").replace("  hook: {url", "  # hook\n  hook: {url"))
    (tmp_path / f"{module}.py").write_text(
        "def lookup(view):\n    return 'ok'\n\nraise ImportError('no backend here')\n"
    )
    assert fit(["--intents", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4: action 'lookup': cannot import module '{module}'" in err
    assert "ImportError: no backend here" in err


def test_fit_check_passes_the_shipped_domains() -> None:
    root = Path(__file__).resolve().parent.parent
    assert fit(["--intents", str(root / "intents.yaml"), "--check"]) == 0
    assert fit(["--intents", str(root / "examples" / "ru" / "intents.yaml"), "--check"]) == 0
