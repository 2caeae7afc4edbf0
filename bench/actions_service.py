"""Actions in the whole service: the bot with a webhook action on every turn against the same bot without.

    python bench/actions_service.py [--connections 100] [--seconds 5] [--warmup 1] [--rounds 3]
                                    [--delay 0.02] [--python] [--variant "NAME=VALUE ..." ...]

Two bots (`python -m bot`, real uvicorn, SQLite) serve the same demo-like domain (the demo
intents.yaml's intents and examples, no forms); in one, every intent runs `hook`, an HTTP
action on Rasa's protocol, signed, against a loopback action server that answers each request
after `--delay` seconds (a tiny asyncio HTTP server, so its own CPU stays out of the picture).
`--connections` WebSocket clients in a closed loop (each sends as soon as its reply is in)
drive one bot, then the other, `--rounds` times, alternating, so a busy machine slows both
alike. Servers on one core, clients and the action server on the other (as bench/ws_load.py).
Prints throughput and latency of each run, the ratio of throughputs (target >= 0.8) and the
p99 difference (target <= +20 ms), and the action calls and outcomes from the bot's /metrics.
The server's CPU per message is shown with its part in the kernel (the sockets' system calls).
The NLU worker's and log writer's mean batch sizes too (from the bot's /metrics).
With `--python` the hook is an async Python action with the same answer after the same delay:
what the turn costs with an action but without HTTP (and with `--delay 0`, without the wait).
Each `--variant` (server settings, `"BOT_GC_YOUNG_THRESHOLD=700 BOT_BATCH_LINGER_MS=0"`) gets its
own pair of bots, all driven in turn each round: settings compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ws_load  # bench/ws_load.py: the load driver and server start-up

ROOT = ws_load.ROOT
WEBHOOK = r"""
import asyncio, re, sys

BODY = (b'{"events": [{"event": "slot", "name": "checked", "value": "yes"}], '
        b'"responses": [{"text": "Done: the back office answered."}]}')
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
DELAY = float(sys.argv[2])

class Hook(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (head_end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:head_end].lower()
            found = re.search(rb"content-length:\s*(\d+)", head)
            end = head_end + 4 + (int(found.group(1)) if found else 0)
            if len(self.buffer) < end:
                return
            self.buffer = self.buffer[end:]
            asyncio.get_running_loop().call_later(DELAY, self.answer)

    def answer(self):
        if not self.transport.is_closing():
            self.transport.write(RESPONSE)

async def main():
    server = await asyncio.get_running_loop().create_server(Hook, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


PYTHON_HOOK = "python"
"""`bench_domain`'s hook as a Python action (`--python`): the same answer, after the same delay."""
HOOK_MODULE = """
import asyncio
from bot.actions import Reply, SetSlot

DELAY = {delay!r}

async def hook(view):
    await asyncio.sleep(DELAY)
    return [Reply("Done: the back office answered."), SetSlot("checked", "yes")]
"""


def bench_domain(demo: Path, hook_url: str | None, concurrency: int | None = None) -> tuple[str, list[str]]:
    """The demo's intents with their examples and one plain reply each, no forms; with `hook_url`
    every intent also runs the `hook` action. Also a message per intent (its first example)."""
    raw = yaml.safe_load(demo.read_text())
    markup = re.compile(r"\[([^\]]+)\]\([^)]*\)")  # [text](entity) -> text: no entities here
    intents: dict[str, dict[str, object]] = {}
    for name, intent in raw["intents"].items():
        examples = list(dict.fromkeys(markup.sub(r"\1", e) for e in intent.get("examples", [])))
        if len(examples) < 2:
            continue
        intents[name] = {"examples": examples, "responses": [f"({name}) Here is what I know."]}
        if hook_url:
            intents[name]["action"] = "hook"
    domain: dict[str, object] = {
        "language": raw.get("language", "en"),
        "fallback": {"threshold": 0.2, "responses": ["Sorry, I didn't get that."]},
        "intents": intents,
    }
    if hook_url == PYTHON_HOOK:
        domain["actions"] = {"hook": {"python": "bench_hook:hook", "timeout": 2.0}}
    elif hook_url:
        hook: dict[str, object] = {"url": hook_url, "timeout": 2.0}
        if concurrency is not None:
            hook["concurrency"] = concurrency
        domain["actions"] = {"hook": hook}
    messages = [i["examples"][0] for i in intents.values()]  # type: ignore[index]
    return yaml.safe_dump(domain, sort_keys=False, allow_unicode=True), messages


def kernel_seconds(pid: int) -> float:
    """The process's CPU time in the kernel so far (system calls: the sockets' work)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def worker_batches(port: int) -> dict[str, tuple[float, float]]:
    """`worker -> (batches, items)` so far, from the bot's /metrics."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    batches = dict(re.findall(r'bot_worker_batches\{worker="([^"]+)"\} (\S+)', text))
    items = dict(re.findall(r'bot_worker_items\{worker="([^"]+)"\} (\S+)', text))
    return {name: (float(n), float(items.get(name, 0.0))) for name, n in batches.items()}


def action_counts(port: int) -> dict[str, float]:
    """`outcome -> calls` of the hook action so far, from the bot's /metrics."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.findall(r'bot_action_calls_total\{action="hook",kind="run",outcome="([^"]+)"\} (\S+)', text)
    return {outcome: float(value) for outcome, value in found}


def action_latency(port: int) -> list[tuple[float, float]]:
    """`(bucket bound in s, share of the hook's calls within it)` from the bot's latency histogram."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.findall(r'bot_action_latency_seconds_bucket\{action="hook",le="([^"]+)"\} (\S+)', text)
    counts = {float(le): float(n) for le, n in found}
    total = counts.get(float("inf"), 0.0) or 1.0
    return [(le, n / total) for le, n in sorted(counts.items()) if 0.01 <= le <= 1.0]


@dataclass
class Runs:
    """One bot's runs: results, server CPU a message (all, in the kernel, by thread), batch sizes."""

    results: list[ws_load.Result] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    kernel: list[float] = field(default_factory=list)
    by_part: dict[str, list[float]] = field(default_factory=dict)
    batch_size: dict[str, list[float]] = field(default_factory=dict)


def measure(proc: subprocess.Popen[bytes], port: int, args: argparse.Namespace, runs: Runs) -> None:
    """One closed-loop run against the bot, with its CPU and batches over the run; after
    `--warmup` seconds of the same load not measured (the action server's connections, closed
    while the other bots were driven, opened again; the clients' first burst spread out)."""
    url = f"ws://127.0.0.1:{port}/ws"
    if args.warmup > 0:
        asyncio.run(ws_load.drive(url, args.connections, args.warmup, 10_000_000, "reply"))
    parts = ws_load.cpu_seconds(proc.pid, port)
    in_kernel = kernel_seconds(proc.pid)
    batches = worker_batches(port)
    result = asyncio.run(ws_load.drive(url, args.connections, args.seconds, 10_000_000, "reply"))
    parts_after = ws_load.cpu_seconds(proc.pid, port)
    n = max(result.messages, 1)
    for part, seconds in parts_after.items():
        runs.by_part.setdefault(part, []).append((seconds - parts.get(part, 0.0)) / n * 1e6)
    for part, (count, items) in worker_batches(port).items():
        count0, items0 = batches.get(part, (0.0, 0.0))
        runs.batch_size.setdefault(part, []).append((items - items0) / max(count - count0, 1.0))
    runs.results.append(result)
    runs.cpu.append((sum(parts_after.values()) - sum(parts.values())) / n * 1e6)
    runs.kernel.append((kernel_seconds(proc.pid) - in_kernel) / n * 1e6)


def report(plain: Runs, acting: Runs, calls: dict[str, float], latency: list[tuple[float, float]]) -> None:
    """One variant's table and summary lines."""
    print(
        f"{'bot':<16} {'round':>5} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'server CPU us/msg':>17} {'of it in kernel':>15}"
    )
    for name, runs in (("without actions", plain), ("with actions", acting)):
        for i, (r, us, sys_us) in enumerate(zip(runs.results, runs.cpu, runs.kernel, strict=True), 1):
            print(
                f"{name:<16} {i:>5} {r.rate:>8,.0f} {r.pct(0.5):>8.1f} {r.pct(0.95):>8.1f} {r.pct(0.99):>8.1f} "
                f"{r.errors:>6} {us:>17,.0f} {sys_us:>15,.0f}"
            )
    ratios = [a.rate / p.rate for p, a in zip(plain.results, acting.results, strict=True)]
    p99s = [a.pct(0.99) - p.pct(0.99) for p, a in zip(plain.results, acting.results, strict=True)]
    plain_cpu, acting_cpu = statistics.median(plain.cpu), statistics.median(acting.cpu)
    print(
        f"medians over the rounds: throughput ratio {statistics.median(ratios):.2f}, p99 difference "
        f"{statistics.median(p99s):+.1f} ms; server CPU per message {plain_cpu:,.0f} µs without actions, "
        f"{acting_cpu:,.0f} µs with (+{acting_cpu - plain_cpu:,.0f} µs: a CPU-bound bot's ratio "
        f"{plain_cpu / acting_cpu:.2f})"
    )
    print(
        "server CPU per message by thread, medians (without / with actions): "
        + ", ".join(
            f"{part} {statistics.median(plain.by_part.get(part, [0.0])):,.0f} / {statistics.median(runs):,.0f} µs"
            for part, runs in acting.by_part.items()
        )
    )
    print(
        "items a batch by worker, medians (without / with actions): "
        + ", ".join(
            f"{part} {statistics.median(plain.batch_size.get(part, [0.0])):.1f} / {statistics.median(runs):.1f}"
            for part, runs in acting.batch_size.items()
        )
    )
    print(
        f"throughput with / without actions, per round: {', '.join(f'{x:.2f}' for x in ratios)} "
        f"(target >= 0.8); p99 difference: {', '.join(f'{x:+.1f}' for x in p99s)} ms (target <= +20 ms)"
    )
    print(
        f"hook calls during the runs: {', '.join(f'{k} {v:,.0f}' for k, v in sorted(calls.items()))} "
        f"for {sum(r.messages for r in acting.results):,} answered turns; the hook's latency in the bot "
        "(the histogram's buckets, all runs): "
        + ", ".join(f"{share:.0%} within {bound * 1000:g} ms" for bound, share in latency)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each bot, alternating")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each run, not measured")
    parser.add_argument("--delay", type=float, default=0.02, help="seconds the action server takes to answer")
    parser.add_argument(
        "--action-concurrency", type=int, help="the hook's `concurrency:` (default: the runner's own default)"
    )
    parser.add_argument(
        "--python",
        action="store_true",
        help="the hook as an async Python action (same delay and answer): the turn's share without HTTP",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar='"NAME=VALUE ..."',
        help="server settings for a pair of bots (repeatable: the pairs compare within the run)",
    )
    parser.add_argument("--demo", type=Path, default=ROOT / "intents.yaml", help="the domain whose intents to use")
    args = parser.parse_args()
    ws_load.raise_fd_limit()
    work = Path(tempfile.mkdtemp(prefix="actions-service-"))
    hook_port = ws_load.free_port()
    hook_url = f"http://127.0.0.1:{hook_port}/webhook"
    env = ws_load.bot_env(
        BOT_RATE_PER_SECOND="100000",
        BOT_RATE_BURST="100000",
        BOT_MAX_CONNECTIONS_PER_IP="100000",
        BOT_LOG_LEVEL="WARNING",
        BOT_ACTIONS_SECRET="bench-secret",
    )
    variants = {v.strip() or "default settings": dict(x.split("=", 1) for x in v.split()) for v in args.variant or [""]}
    bots: dict[tuple[str, str], tuple[subprocess.Popen[bytes], int]] = {}
    hook = subprocess.Popen(
        [*ws_load.taskset(ws_load.CLIENT_CORE), sys.executable, "-c", WEBHOOK, str(hook_port), str(args.delay)],
        stdout=subprocess.PIPE,
    )
    try:
        assert hook.stdout is not None and hook.stdout.readline().strip() == b"ready"
        messages: list[str] = []
        for name, url in (("without actions", None), ("with actions", PYTHON_HOOK if args.python else hook_url)):
            folder = work / ("plain" if url is None else "actions")
            folder.mkdir()
            (folder / "bench_hook.py").write_text(HOOK_MODULE.format(delay=args.delay))
            text, messages = bench_domain(args.demo, url, args.action_concurrency)
            (folder / "intents.yaml").write_text(text)
            fit = ["-m", "training.fit", "--quick", "--intents", str(folder / "intents.yaml")]
            subprocess.run(
                [sys.executable, *fit, "--out", str(folder / "models")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
            )
            for v, (label, settings) in enumerate(variants.items()):
                port = ws_load.free_port()
                bot_env = {
                    **env,
                    **settings,
                    "BOT_MODELS_DIR": str(folder / "models"),
                    "BOT_INTENTS_PATH": str(folder / "intents.yaml"),
                    "BOT_PORT": str(port),
                    "BOT_DATABASE_URL": f"sqlite:///{folder / f'bot{v}.db'}",
                }
                cmd = [*ws_load.taskset(ws_load.SERVER_CORE), sys.executable, "-m", "bot"]
                bots[label, name] = (ws_load.start(cmd, bot_env, port, folder / "bot.log")[0], port)
        ws_load.MESSAGES[:] = messages
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {int(ws_load.CLIENT_CORE)})
        runs = {key: Runs() for key in bots}
        before = {label: action_counts(bots[label, "with actions"][1]) for label in variants}
        for _ in range(args.rounds):
            for key, (proc, port) in bots.items():
                measure(proc, port, args, runs[key])
        calls = {}
        for label in variants:
            after = action_counts(bots[label, "with actions"][1])
            calls[label] = {k: after.get(k, 0.0) - before[label].get(k, 0.0) for k in after}
        latency = {label: action_latency(bots[label, "with actions"][1]) for label in variants}
    finally:
        for proc, _ in bots.values():
            proc.terminate()
            proc.wait(30)
        hook.terminate()
        hook.wait(10)

    print(
        f"\n{len(messages)} intents, {args.connections} connections, closed loop, {args.seconds:g} s a run; "
        f"action server answers after {args.delay * 1000:g} ms"
    )
    for label in variants:
        print(f"\n== {label}")
        report(runs[label, "without actions"], runs[label, "with actions"], calls[label], latency[label])
    if len(variants) > 1:
        first = next(iter(variants))
        print(f"\nthroughput against {first}, per round (same round):")
        for name in ("without actions", "with actions"):
            for label in list(variants)[1:]:
                pairs = zip(runs[first, name].results, runs[label, name].results, strict=True)
                print(f"  {name}, {label}: " + ", ".join(f"{b.rate / a.rate:.2f}" for a, b in pairs))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
