"""The page in a real browser (Debian's headless Chromium driven by Playwright): upload, the
strength slider, the result shown and equal to ``Stylizer``'s; the camera mode with Chromium's
fake camera receives stylised frames. Screenshots go to ``$RESTYLE_SHOTS`` (default: tmp)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from serve_helpers import ServerProcess, assert_close, decode, encode, running_server

from restyle import Stylizer
from restyle.samples import sample_photos

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="no /usr/bin/chromium: apt-get install -y chromium "
                                       "(.ci/run installs it)")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with running_server(["--model", "psychedelic", "--model", "ink", "--threads", "1"]) as srv:
        yield srv


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RESTYLE_SHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS + FAKE_CAMERA)
        yield b
        b.close()


def _backend(server: ServerProcess, style: str) -> str:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        return str(c.get("/healthz").json()["loaded"][style]["backend"])


def _blob(page: Any, expression: str) -> bytes:
    values = page.evaluate(f"async () => Array.from(new Uint8Array(await ({expression})"
                           ".arrayBuffer()))")
    return bytes(values)


def test_upload_slider_and_result(server: ServerProcess, browser: Any, shots: Path,
                                  tmp_path: Path) -> None:
    with Image.open(sample_photos()[1]) as sample:  # a real photo, small enough to be quick
        img = np.asarray(sample.convert("RGB").resize((160, 120)))
    src = tmp_path / "photo.png"
    src.write_bytes(encode(img))
    page = browser.new_page(viewport={"width": 1000, "height": 640})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    options = page.eval_on_selector_all("#style option", "os => os.map(o => o.value)")
    assert options == ["psychedelic", "ink"]

    page.set_input_files("#file", str(src))
    page.wait_for_function("window.restyle.results >= 1", timeout=120_000)
    backend = _backend(server, "psychedelic")
    with Stylizer("psychedelic", backend=backend, threads=1) as st:
        full = np.asarray(st(Image.fromarray(img)))
        partial = np.asarray(st(Image.fromarray(img), strength=0.4))
    assert_close(decode(_blob(page, "window.restyle.result")), full)
    shown = page.eval_on_selector("#after", "i => [i.naturalWidth, i.naturalHeight]")
    assert shown == [160, 120]
    assert page.get_attribute("#download", "download") == "photo-psychedelic.png"
    page.screenshot(path=str(shots / "page-full.png"))

    page.locator("#strength").fill("40")
    page.wait_for_function("document.getElementById('after').dataset.strength === '0.40'",
                           timeout=120_000)
    assert page.text_content("#strength-value") == "0.40"
    assert_close(decode(_blob(page, "window.restyle.result")), partial)
    assert "strength 0.40" in (page.text_content("#status") or "")
    page.screenshot(path=str(shots / "page-strength.png"))
    assert not errors, errors
    page.close()


def test_camera_receives_stylised_frames(server: ServerProcess, browser: Any,
                                         shots: Path) -> None:
    context = browser.new_context(permissions=["camera"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    page.click("#tab-camera")
    assert page.input_value("#style") == "ink"  # the realtime generator
    page.click("#camera-start")
    page.wait_for_function("window.restyle.camera.frames >= 5", timeout=120_000)
    pair = page.evaluate("""async () => {
        const p = window.restyle.camera.pair;  // one snapshot: the camera keeps running
        const bytes = async (b) => Array.from(new Uint8Array(await b.arrayBuffer()));
        return [await bytes(p.sent), await bytes(p.received)];
    }""")
    sent, received = (decode(bytes(b)) for b in pair)
    with Stylizer("ink", backend=_backend(server, "ink"), threads=1) as st:
        want = np.asarray(st(Image.fromarray(sent)))
    assert received.shape == (240, 320, 3)
    assert_close(received, want, mean=3.0, worst=48)  # JPEG both ways
    fps = page.text_content("#fps") or ""
    assert fps.endswith("frames/s") and float(fps.split()[0]) > 0
    page.screenshot(path=str(shots / "camera.png"))
    page.click("#camera-stop")
    assert not errors, errors
    context.close()
