"""A headless Chromium driven over the DevTools protocol, for the report's browser test.

Chromium starts with a fresh profile and every background service off (no
network of its own), loads a page, and reports what a reader would hit:
uncaught exceptions, console errors, failed loads. The websocket client is
tornado's, already installed as a dependency of dask.distributed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
)
NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The browser binary: ``$CHROMIUM`` if set, else the first on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageCheck:
    """What loading one page produced."""

    errors: list[str] = field(default_factory=list)
    result: Any = None
    screenshot: bytes = b""


class _Session:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        await self.ws.write_message(json.dumps(msg))
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), timeout=60)
            if raw is None:
                raise RuntimeError("chromium closed the DevTools connection")
            data = json.loads(raw)
            if data.get("id") == self.next_id:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            if "method" in data:
                self.events.append(data)

    async def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} within {timeout} s")
            raw = await asyncio.wait_for(self.ws.read_message(), timeout=left)
            if raw is None:
                raise RuntimeError("chromium closed the DevTools connection")
            data = json.loads(raw)
            if "method" in data:
                self.events.append(data)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console: " + " ".join(str(a.get("value", a)) for a in p.get("args", [])))
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif e["method"] == "Network.loadingFailed":
            out.append(f"load failed: {p.get('errorText')}")
    return out


async def _drive(ws_url: str, url: str, expression: str) -> PageCheck:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(ws_url, max_message_size=256 * 1024 * 1024)
    s = _Session(ws)
    target = (await s.call("Target.createTarget", url="about:blank"))["targetId"]
    sid = (await s.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        await s.call(f"{domain}.enable", session=sid)
    s.events.clear()
    await s.call("Page.navigate", session=sid, url=url)
    await s.wait_for("Page.loadEventFired")
    value = await s.call("Runtime.evaluate", session=sid, expression=expression, returnByValue=True)
    metrics = await s.call("Page.getLayoutMetrics", session=sid)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = await s.call(
        "Page.captureScreenshot",
        session=sid,
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    )
    ws.close()
    return PageCheck(
        errors=_errors(s.events),
        result=value.get("result", {}).get("value"),
        screenshot=base64.b64decode(shot["data"]),
    )


def check_page(binary: str, url: str, expression: str, profile: Path) -> PageCheck:
    """Load ``url`` in a fresh headless Chromium; evaluate ``expression`` (JSON-able
    result); return errors seen, the result and a full-page PNG screenshot."""
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        ws_url = None
        deadline = time.monotonic() + 60
        while ws_url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1)
        if ws_url is None:
            raise RuntimeError(f"chromium did not start its DevTools endpoint ({binary})")
        # keep reading its log, so a full pipe never blocks the browser
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        return asyncio.run(_drive(ws_url, url, expression))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
