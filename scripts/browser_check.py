"""Open pages in headless Chromium (the Debian package) and check them like a person would.

    .venv/bin/python scripts/browser_check.py \
        --page target/feature_health.html --plots 4 --text "Feature health" \
        --page "target/static_index.html#!/exposure/exposure.nba_precompute.prediction_service" --text prediction_service

For every page: a fresh browser profile, the page loaded from disk (no network), then through the
Chrome DevTools protocol: every uncaught exception, console.error and browser log entry of level
error is collected; the number of plotly plots that actually rendered (a `.plotly-graph-div` holding
an SVG) must be at least --plots; the visible text must contain --text; a full-page screenshot is
written to target/screenshots/<name>.png. Exit status 1 when any page fails, naming the reason.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=1400,900"]

COUNT_PLOTS = """Array.from(document.querySelectorAll('.plotly-graph-div'))
  .filter(div => div.querySelector('svg.main-svg') !== null).length"""


class Tab:
    """One DevTools websocket session on the browser's page target."""

    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=30)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, seconds: float) -> bool:
        deadline = time.time() + seconds
        if any(e.get("method") == method for e in self.events):
            return True
        self.ws.settimeout(1)
        while time.time() < deadline:
            try:
                message = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                continue
            self.events.append(message)
            if message.get("method") == method:
                self.ws.settimeout(30)
                return True
        self.ws.settimeout(30)
        return False

    def drain(self, seconds: float) -> None:
        self.wait_for("__never__", seconds)

    def evaluate(self, expression: str):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def js_errors(events: list[dict]) -> list[str]:
    """JavaScript errors the page logged: uncaught exceptions, console.error, browser log entries of
    level error from JavaScript. Resource-loading entries (network, security) are not JavaScript
    errors: see resource_notes."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append("uncaught: " + (details.get("exception", {}).get("description") or details.get("text", "")).splitlines()[0])
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            errors.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error" \
                and params["entry"].get("source") == "javascript":
            errors.append(f"log (javascript): {params['entry'].get('text')}")
    return errors


def resource_notes(events: list[dict]) -> dict:
    """{source: count} of the error-level log entries that are not JavaScript (e.g. the dbt docs page
    asks for an image URL holding an unrendered template, '{{ getIcon(...) }}', which file:// refuses)."""
    notes: dict = {}
    for event in events:
        entry = event.get("params", {}).get("entry", {}) if event.get("method") == "Log.entryAdded" else {}
        if entry.get("level") == "error" and entry.get("source") != "javascript":
            notes[entry.get("source")] = notes.get(entry.get("source"), 0) + 1
    return notes


def stop_process_group(browser: subprocess.Popen) -> None:
    """SIGTERM to Chromium and its helpers, SIGKILL to whatever is left after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(browser.pid, sig)
        except ProcessLookupError:
            return
        try:
            browser.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)  # helpers leave the group shortly after the browser


def check(page: str, plots: int, texts: list[str], shots: Path, settle: float) -> list[str]:
    path, _, fragment = page.partition("#")
    file = Path(path).resolve()
    if not file.exists():
        return [f"{path} does not exist"]
    url = file.as_uri() + (f"#{fragment}" if fragment else "")
    problems: list[str] = []
    # Chromium's helper processes (renderer, crashpad) may still write into the profile after the
    # browser itself exits, so the whole process group is stopped before the profile is removed.
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True) as profile:
        browser = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            for _ in range(300):
                if port_file.exists() and port_file.read_text().strip():
                    break
                time.sleep(0.1)
            port = port_file.read_text().split()[0]
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            tab = Tab(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
            for domain in ("Page", "Runtime", "Log"):
                tab.call(f"{domain}.enable")
            tab.call("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
            tab.call("Page.navigate", url=url)
            if not tab.wait_for("Page.loadEventFired", 60):
                problems.append("the page did not finish loading in 60 s")
            tab.drain(settle)  # let plotly / the docs app render
            rendered = tab.evaluate(COUNT_PLOTS) or 0
            if rendered < plots:
                problems.append(f"{rendered} plots rendered, expected {plots}")
            body = tab.evaluate("document.body ? document.body.innerText : ''") or ""
            problems += [f"text {text!r} not on the page" for text in texts if text not in body]
            height = min(int(tab.evaluate("document.documentElement.scrollHeight") or 900), 12000)
            shot = tab.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": 1400, "height": height, "scale": 1})
            shots.mkdir(parents=True, exist_ok=True)
            name = file.stem + (("-" + fragment.strip("!/").replace("/", "-").replace(".", "-")) if fragment else "")
            target = shots / f"{name}.png"
            target.write_bytes(base64.b64decode(shot["data"]))
            problems += js_errors(tab.events)
            status = "FAIL" if problems else "ok"
            notes = resource_notes(tab.events)
            noted = f"; resource log entries (not JavaScript errors): {notes}" if notes else ""
            print(f"browser check {status}: {page}: {rendered} plots, {len(body)} characters of text, "
                  f"screenshot {target} ({height} px){noted}")
            tab.ws.close()
        finally:
            stop_process_group(browser)
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", action="append", required=True, help="HTML file, optionally with #fragment")
    parser.add_argument("--plots", action="append", type=int, default=[], help="plots expected on the page of the same position (default 0)")
    parser.add_argument("--text", action="append", default=[], help="text the page of the same position must show")
    parser.add_argument("--screenshots", default="target/screenshots")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds to let the page render after load")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"browser check: {CHROMIUM} is missing (make browser-check installs it)", file=sys.stderr)
        return 2
    failed = 0
    for i, page in enumerate(args.page):
        plots = args.plots[i] if i < len(args.plots) else 0
        texts = [args.text[i]] if i < len(args.text) and args.text[i] else []
        problems = check(page, plots, texts, Path(args.screenshots), args.settle)
        for problem in problems:
            print(f"  {page}: {problem}", file=sys.stderr)
        failed += bool(problems)
    print(f"browser check: {len(args.page) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
