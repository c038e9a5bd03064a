"""The "Try it: draw a digit" page (book/draw.md) in a real headless Chromium.

The page comes from the session's one `make book` build (tests/conftest.py, -W, shared with the
website's tests), opened from disk (file://), as a reader who double-clicks the HTML file would. Checked: it loads with no console
error and no request at all outside the site; its JavaScript network predicts Keras' digit on 500
MNIST test images; its preprocessing gives the same 28 x 28 images as
``mh.predict.preprocess_image``; digits drawn with the mouse are read right; the examples load;
the keyboard alone reaches and presses the buttons, and the answer is announced (aria-live).
Screenshot: book/_build/screenshots/draw.png.
"""
import base64
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
import site_checks as sc
from folding_models import FOLDED_OPS
from folding_models import small_model as _small_model
from PIL import Image, ImageDraw

from mnist_helpers import predict as mh_predict

ROOT = Path(__file__).resolve().parents[1]
# The page's exporter is a build tool of the book (tools/), not part of the package.
_SPEC = importlib.util.spec_from_file_location("web_export", ROOT / "tools" / "web_export.py")
web_export = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(web_export)
WEIGHTS = ROOT / "book" / "_static" / "mnist_cnn_weights.js"
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"

N_AGREEMENT = 500
MIN_AGREEMENT = 0.998
# The page computes with int8 weights: the export measured a largest probability gap of 0.039
# against Keras on all 10,000 test images, so 0.05 leaves room and nothing more.
PROB_TOL_KERAS = 0.05
# Against the same int8 network in NumPy (float32), the only difference is the arithmetic:
# JavaScript sums in float64.
PROB_TOL_NUMPY = 1e-4
# The preprocessing mirrors Pillow's fixed-point Lanczos exactly: equal images are expected;
# one grey level allows for an ulp of sin() in another maths library, nothing more.
PIXEL_TOL = 1


@pytest.fixture(scope="session")
def site(book_build):
    """The book built by `make book` (-W), shared with the website's tests (tests/conftest.py)."""
    return book_build["html"]


@pytest.fixture(scope="session")
def page(site, browser):
    """The page opened from disk; ``page.problems`` collects console errors and any request."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda msg: msg.type == "error" and page.problems.append(f"console error: {msg.text}"))
    page.on("pageerror", lambda exc: page.problems.append(f"uncaught exception: {exc}"))
    page.on("request", lambda req: req.url.startswith(("file://", "data:", "blob:"))
            or page.problems.append(f"request: {req.url}"))
    page.goto((site / "book" / "draw.html").as_uri(), wait_until="load")
    page.wait_for_function("window.mnistDraw !== undefined")
    yield page
    context.close()


@pytest.fixture(scope="session")
def model():
    from mnist_helpers.inference import load_model

    return load_model(web_export.DEFAULT_MODEL)


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.uint8).tobytes()).decode("ascii")


DECODE_JS = "b => Uint8Array.from(atob(b), ch => ch.charCodeAt(0))"
PREDICT_JS = f"""([b64, n]) => {{
  const all = ({DECODE_JS})(b64);
  const out = [];
  for (let i = 0; i < n; i++) out.push(Array.from(window.mnistDraw.predict(all.subarray(784 * i, 784 * (i + 1)))));
  return out;
}}"""
PREPROCESS_JS = f"""(images) => images.map(([b64, w, h]) => {{
  const pixels = window.mnistDraw.preprocess(({DECODE_JS})(b64), w, h);
  return pixels === null ? null : Array.from(pixels);
}})"""
CANVAS_RGBA_JS = """() => {
  const pad = document.querySelector('.md-pad');
  const data = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
  let s = '';
  for (let i = 0; i < data.length; i += 8192) s += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
  return [btoa(s), pad.width, pad.height];
}"""
VIEW_JS = """() => Array.from(document.querySelector('.md-input').getContext('2d')
  .getImageData(0, 0, 28, 28).data.filter((v, i) => i % 4 === 0))"""


# ------------------------------------------------------------------ the page itself

def test_the_page_loads_cleanly_from_disk_and_from_a_server(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        uri = (site / "book" / "draw.html").as_uri()
        report = sc.check_page(context, uri, ("file://",))
        assert report.problems == [], report.problems
        with sc.serve(site) as base:
            report = sc.check_page(context, base + "book/draw.html", (base,))
        assert report.problems == [], report.problems
        assert sc.external_resources((site / "book" / "draw.html").read_text(encoding="utf8")) == []
    finally:
        context.close()


def test_the_page_shows_the_exports_figures(page):
    figures = page.eval_on_selector_all(
        "[data-md-figure]", "els => Object.fromEntries(els.map(e => [e.dataset.mdFigure, e.textContent]))")
    meta = page.evaluate("window.mnistDraw.meta")
    assert figures["agreement"] == f"{100 * meta['same_digit_as_keras']:.2f}%"
    assert figures["file_kb"] == f"{round(WEIGHTS.stat().st_size / 1000)} kB"  # the file's real size
    assert meta["file_bytes"] == WEIGHTS.stat().st_size
    assert re.fullmatch(r"\d+\.\d ms", figures["speed"]), figures
    print(f"\npage figures: {figures}")
    assert page.problems == []


def test_the_weights_file_is_small(page):
    size = WEIGHTS.stat().st_size
    print(f"\nweights file: {size:,} bytes")
    assert size <= web_export.MAX_BYTES


# ------------------------------------------------------------------ the network

def test_the_javascript_network_predicts_keras_digit(page, model, mnist):
    _, (x_test, _) = mnist
    rng = np.random.default_rng(0)
    x = x_test[np.sort(rng.choice(len(x_test), N_AGREEMENT, replace=False))]
    ours = np.array(page.evaluate(PREDICT_JS, [_b64(x), len(x)]))
    keras_probs = model.predict(x, verbose=0)
    numpy_probs = web_export.forward(web_export.quantize(web_export.fold_model(model)), x)

    same = np.mean(ours.argmax(axis=1) == keras_probs.argmax(axis=1))
    gap_keras = np.abs(ours - keras_probs).max()
    gap_numpy = np.abs(ours - numpy_probs).max()
    print(f"\nJavaScript vs Keras on {len(x)} test images: same digit on {same:.2%}, max probability gap "
          f"{gap_keras:.4f} (tolerance {PROB_TOL_KERAS}); vs the int8 network in NumPy: {gap_numpy:.2g} "
          f"(tolerance {PROB_TOL_NUMPY})")
    assert gap_numpy <= PROB_TOL_NUMPY, ("the page's network differs from the model's int8 export; "
                                         "if the model changed, run python tools/web_export.py")
    assert same >= MIN_AGREEMENT
    assert gap_keras <= PROB_TOL_KERAS
    assert page.problems == []


def test_one_prediction_is_fast(page, mnist):
    _, (x_test, _) = mnist
    ms = page.evaluate(f"""(b64) => {{
      const all = ({DECODE_JS})(b64), times = [];
      for (let i = 0; i < 50; i++) {{
        const t = performance.now();
        window.mnistDraw.predict(all.subarray(784 * i, 784 * (i + 1)));
        times.push(performance.now() - t);
      }}
      times.sort((a, b) => a - b);
      return times[25];
    }}""", _b64(x_test[:50]))
    print(f"\none prediction in headless Chromium: {ms:.1f} ms (median of 50; the aim is under 50 ms)")


# ------------------------------------------------------------------ the preprocessing

def _rgba(grey: np.ndarray) -> np.ndarray:
    return np.dstack([grey, grey, grey, np.full_like(grey, 255)])


def _test_images(x_test: np.ndarray) -> list[np.ndarray]:
    """RGBA images: 20 digits enlarged to 200 x 200 and inverted (ink on paper); 6 in other
    shapes and the other way round (white on black, the other branch of predict._ink); and 20
    random scribbles from very thin to very wide, which make Pillow resample in either order."""
    images = []
    for i, digit in enumerate(x_test[:26]):
        size = (200, 200) if i < 20 else [(150, 260), (260, 150), (97, 203), (333, 120), (200, 200), (64, 64)][i - 20]
        big = np.asarray(Image.fromarray(digit).resize(size, Image.Resampling.BILINEAR))
        images.append(_rgba(255 - big if i < 20 or i % 2 else big))
    rng = np.random.default_rng(0)
    for i in range(20):
        paper = Image.new("L", (240, 240), 255)
        width, height = rng.integers(4, 230, size=2) if i % 2 else (rng.integers(4, 60), rng.integers(150, 230))
        left, top = rng.integers(0, 240 - width), rng.integers(0, 240 - height)
        points = [(int(left + rng.integers(0, width)), int(top + rng.integers(0, height))) for _ in range(4)]
        ImageDraw.Draw(paper).line(points, fill=int(rng.integers(0, 60)), width=int(rng.integers(3, 25)))
        images.append(_rgba(np.asarray(paper)))
    return images


def test_the_javascript_preprocessing_equals_predict(page, mnist):
    _, (x_test, _) = mnist
    images = _test_images(x_test)
    ours = page.evaluate(PREPROCESS_JS, [[_b64(im), im.shape[1], im.shape[0]] for im in images])
    gaps = []
    for n, (image, js) in enumerate(zip(images, ours)):
        assert js is not None, f"image {n}: the page found no digit"
        expected = mh_predict.preprocess_image(image).astype(int)
        gaps.append(np.abs(np.array(js).reshape(28, 28) - expected))
    gaps = np.array(gaps)
    print(f"\nJavaScript vs preprocess_image on {len(images)} images: max gap {gaps.max()} grey levels, "
          f"mean {gaps.mean():.4f} (tolerance {PIXEL_TOL})")
    assert gaps.max() <= PIXEL_TOL


def test_a_blank_image_is_no_digit(page):
    paper = np.full((50, 40, 4), 255, np.uint8)
    assert page.evaluate(PREPROCESS_JS, [[_b64(paper), 40, 50]]) == [None]


# ------------------------------------------------------------------ drawing like a reader

# Strokes in fractions of the pad (x, y); each digit as a reader might draw it.
STROKES = {
    1: [[(0.52, 0.12), (0.48, 0.88)]],
    4: [[(0.40, 0.12), (0.28, 0.60), (0.75, 0.60)], [(0.62, 0.30), (0.62, 0.90)]],
    7: [[(0.25, 0.18), (0.75, 0.18), (0.42, 0.88)]],
    0: [[(0.5 + 0.22 * np.sin(t), 0.5 - 0.36 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
}


def _draw(page, strokes, before_lift=None):
    box = page.locator(".md-pad").bounding_box()
    for stroke in strokes:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for previous, point in zip(points, points[1:]):
            # A move event every ~12 screen pixels, like a quick hand (each one is a round trip).
            page.mouse.move(*point, steps=max(1, round(np.hypot(point[0] - previous[0], point[1] - previous[1]) / 12)))
        if before_lift:
            before_lift()
        page.mouse.up()


def test_digits_drawn_with_the_mouse_are_read(page):
    page.locator("#mnist-draw").scroll_into_view_if_needed()
    answers = {}
    for digit, strokes in STROKES.items():
        page.locator(".md-clear").click()
        assert page.locator(".md-answer").get_attribute("data-digit") == "-1"
        # The bars already move while the pen is down (throttled predictions).
        during = []
        _draw(page, strokes, before_lift=lambda during=during: during.append(
            page.wait_for_function("document.querySelector('.md-answer').dataset.digit !== '-1'")))
        assert during
        answers[digit] = int(page.locator(".md-answer").get_attribute("data-digit"))
        # What the page shows as the network's input is what predict.py makes of the canvas.
        b64, width, height = page.evaluate(CANVAS_RGBA_JS)
        canvas = np.frombuffer(base64.b64decode(b64), np.uint8).reshape(height, width, 4)
        shown = np.array(page.evaluate(VIEW_JS)).reshape(28, 28)
        assert np.abs(shown - mh_predict.preprocess_image(canvas).astype(int)).max() <= PIXEL_TOL
    print(f"\ndrawn -> read: {answers}")
    assert answers == {d: d for d in STROKES}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".md-clear").click()
    _draw(page, STROKES[4])
    page.evaluate("document.getElementById('mnist-draw').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(SCREENSHOTS / "draw.png"))
    assert page.problems == []


FOCUSED_JS = "sel => document.activeElement !== null && document.activeElement.matches(sel)"
# The element that announces the answer: the answer itself or an ancestor with aria-live.
LIVE_JS = """() => {
  const live = document.querySelector('.md-answer').closest('[aria-live]');
  return live && {politeness: live.getAttribute('aria-live'), text: document.querySelector('.md-answer').textContent};
}"""


def _tab_to(page, selector, key="Tab", limit=80):
    """Press ``key`` until ``selector`` has the focus; the number of presses (fails after ``limit``)."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        if page.evaluate(FOCUSED_JS, selector):
            return presses
    pytest.fail(f"{limit} presses of {key} never reached {selector}; focus is on "
                f"{page.evaluate('document.activeElement.outerHTML.slice(0, 120)')}")


def test_the_page_works_with_the_keyboard_alone(site, browser):
    """Tab reaches the Clear button and an example; Enter and Space press them; the answer is announced."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto((site / "book" / "draw.html").as_uri(), wait_until="load")
        page.wait_for_function("window.mnistDraw !== undefined")
        presses = _tab_to(page, ".md-clear")
        _tab_to(page, ".md-example")  # the first example, after Clear
        page.keyboard.press("Enter")
        assert page.locator(".md-answer").get_attribute("data-digit") == "0"
        live = page.evaluate(LIVE_JS)
        assert live is not None and live["politeness"] in ("polite", "assertive"), "the answer is not announced"
        assert live["text"].startswith("The network reads a 0")
        _tab_to(page, ".md-clear", key="Shift+Tab")
        page.keyboard.press("Space")
        assert page.locator(".md-answer").get_attribute("data-digit") == "-1"
        assert page.evaluate(LIVE_JS)["text"] == "Draw a digit in the box."
        print(f"\nthe Clear button is reached after {presses} presses of Tab")
    finally:
        context.close()


def test_the_examples_are_mnist_test_digits_and_are_read(page, mnist):
    _, (x_test, y_test) = mnist
    data = page.evaluate("window.MNIST_CNN.examples")
    pixels = np.frombuffer(base64.b64decode(data["pixels"]), np.uint8).reshape(-1, 28, 28)
    assert data["labels"] == list(range(10))
    assert [int(y_test[i]) for i in data["indices"]] == data["labels"]
    assert np.array_equal(pixels, x_test[data["indices"]])
    read = []
    for n in range(10):
        page.locator(".md-example").nth(n).click()
        read.append(int(page.locator(".md-answer").get_attribute("data-digit")))
    print(f"\nexamples 0..9 read as {read}")
    assert read == list(range(10))
    assert page.problems == []


def test_folding_and_the_javascript_layers_on_a_small_network(page, mnist):
    _, (x_test, _) = mnist
    model = _small_model()
    x = x_test[:50]
    keras_probs = model.predict(x, verbose=0)
    assert np.median(keras_probs.max(axis=1)) > 0.5  # not a flat softmax, where every gap is tiny
    ops = web_export.fold_model(model)
    assert [op["op"] for op in ops] == FOLDED_OPS
    gap_fold = np.abs(web_export.forward(ops, x) - keras_probs).max()
    int8 = web_export.quantize(ops)
    data = web_export.js_data(int8, {}, {})
    ours = np.array(page.evaluate(f"""([data, b64, n]) => {{
      const predict = window.mnistDraw.network(data), all = ({DECODE_JS})(b64), out = [];
      for (let i = 0; i < n; i++) out.push(Array.from(predict(all.subarray(784 * i, 784 * (i + 1)))));
      return out;
    }}""", [data, _b64(x), len(x)]))
    gap_js = np.abs(ours - web_export.forward(int8, x)).max()
    print(f"\nsmall network: folded vs Keras {gap_fold:.2g}, JavaScript vs NumPy (int8) {gap_js:.2g}")
    assert gap_fold <= web_export.FLOAT_ATOL
    assert gap_js <= PROB_TOL_NUMPY


def test_the_export_refuses_unknown_layers():
    from mnist_helpers._keras import keras

    model = keras.Sequential([keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
                              keras.layers.AveragePooling2D(2), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(web_export.ExportError, match="AveragePooling2D is not supported"):
        web_export.fold_model(model)


def test_the_committed_weights_come_from_the_shipped_model(tmp_path):
    """`make book` re-exports only when the model's content changed (file times lie on a fresh clone)."""
    assert web_export.is_current(web_export.DEFAULT_MODEL, web_export.DEFAULT_OUT), \
        "run `python tools/web_export.py` to export the shipped model again"
    other = tmp_path / "other.keras"
    other.write_bytes(web_export.DEFAULT_MODEL.read_bytes() + b"changed")
    assert not web_export.is_current(other, web_export.DEFAULT_OUT)
    assert not web_export.is_current(web_export.DEFAULT_MODEL, tmp_path / "missing.js")
