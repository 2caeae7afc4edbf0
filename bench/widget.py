"""The widget's weight and speed: gzipped size, and time from opening to the first message on screen.

    python bench/widget.py [--runs 20]

Size: webui/widget.js and widget.css, gzipped as a server would (level 6) and at level 9;
the target is at most 40 KB together. Speed: the bot (`python -m bot`, SQLite, the small test
domain with a welcome, trained quickly into a temporary folder) on loopback, and Debian's
Chromium headless; each run is a fresh browser context (a first visit: nothing cached in
storage) on a host page with the widget closed. Timed inside the page (performance.now(), a
MutationObserver on the widget's shadow root), so the browser driver's round trips are not
counted:

- open: from the launcher's click to the panel shown with its input focused;
- first message: from the click to the welcome rendered. This includes connecting, the
  hello/session exchange, opening the session and logging the welcome;
- first reply: from the click, with "hi" sent at once, to the bot's reply rendered (the
  turn classified and committed as well).

The target is the first message within 300 ms of opening.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ws_load import bot_env, free_port  # noqa: E402  (bench/ws_load.py, beside this file)

SHOP = ROOT / "tests" / "data" / "shop.yaml"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

MEASURE = """
async () => {
  const root = document.querySelector('#chatwidget-host').shadowRoot;
  const launcher = root.querySelector('.cbw-launcher');
  const input = root.querySelector('.cbw-input');
  const bots = () => root.querySelectorAll('.cbw-msg--bot').length;
  const start = performance.now();
  let opened = null;
  let welcome = null;
  const done = new Promise(resolve => {
    const check = () => {
      if (opened === null && !root.querySelector('.cbw-panel').hidden && root.activeElement === input) {
        opened = performance.now() - start;
      }
      if (welcome === null && bots() > 0) welcome = performance.now() - start;
      if (bots() > 1) { observer.disconnect(); resolve(performance.now() - start); }
    };
    const observer = new MutationObserver(check);
    observer.observe(root, { childList: true, subtree: true, attributes: true });
  });
  launcher.click();
  if (opened === null && root.activeElement === input) opened = performance.now() - start;
  ChatWidget.send('hi');
  const first = await done;
  return { opened: opened, welcome: welcome, first: first };
}
"""


def sizes() -> None:
    files = [ROOT / "webui" / "widget.js", ROOT / "webui" / "widget.css"]
    total = {6: 0, 9: 0}
    print(f"{'file':<12} {'raw':>10} {'gzip -6':>10} {'gzip -9':>10}")
    for path in files:
        raw = path.read_bytes()
        packed = {level: len(gzip.compress(raw, compresslevel=level)) for level in total}
        for level in total:
            total[level] += packed[level]
        print(f"{path.name:<12} {len(raw):>10,} {packed[6]:>10,} {packed[9]:>10,}")
    print(f"{'together':<12} {'':>10} {total[6]:>10,} {total[9]:>10,}   (target <= 40,960)")


def percentile(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, int(q * len(data)))]


def timings(runs: int) -> None:
    import httpx
    from playwright.sync_api import sync_playwright

    from tests.helpers import WELCOME_YAML
    from training.fit import main as fit

    work = Path(tempfile.mkdtemp(prefix="bench-widget-"))
    try:
        models = work / "models"
        intents = work / "intents.yaml"
        intents.write_text(SHOP.read_text().rstrip("\n") + "\n" + WELCOME_YAML)
        if fit(["--intents", str(intents), "--out", str(models), "--quick"]) != 0:
            raise SystemExit("training failed")
        port = free_port()
        env = bot_env(
            BOT_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
            BOT_INTENTS_PATH=str(intents),
            BOT_MODELS_DIR=str(models),
            BOT_TRAIN_IF_NEEDED="false",
            BOT_PORT=str(port),
            BOT_RATE_BURST="1000",
            BOT_LOG_LEVEL="WARNING",
        )
        server = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            chromium = shutil.which("chromium") or "/usr/bin/chromium"
            page_html = (
                '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>'
                '<body><main><h1>Shop</h1></main><script src="/widget.js"></script></body></html>'
            )
            opened: list[float] = []
            welcome: list[float] = []
            first: list[float] = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                for i in range(runs + 1):
                    context = browser.new_context(bypass_csp=True)
                    page = context.new_page()
                    page.goto(f"{url}/healthz")
                    page.set_content(page_html)
                    page.wait_for_function(
                        "() => { const h = document.querySelector('#chatwidget-host');"
                        " return h && h.shadowRoot.querySelector('.cbw').style.visibility === ''; }"
                    )
                    result = page.evaluate(MEASURE)
                    if i > 0:  # the first run warms the server and the browser up
                        opened.append(result["opened"] or float("nan"))
                        welcome.append(result["welcome"])
                        first.append(result["first"])
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(20)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{runs} first visits, fresh context each (ms)   median     p90     max")
    rows = (
        ("open: panel shown, input focused", opened),
        ("open -> first message (the welcome)", welcome),
        ("open -> first reply rendered", first),
    )
    for name, values in rows:
        print(f"{name:<38} {statistics.median(values):>7.1f} {percentile(values, 0.9):>7.1f} {max(values):>7.1f}")
    print("target: first message within 300 ms of opening")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size-only", action="store_true")
    args = parser.parse_args()
    sizes()
    if not args.size_only:
        timings(args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
