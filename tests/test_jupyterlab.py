"""JupyterLab as a reader uses it: `make lab`, the notebooks listed, a chapter run by its kernel.

`make lab` (the README's command) is started on 127.0.0.1 with a random token, in fast mode and
with its own Jupyter config/runtime folders. Over HTTP: the token is required, the notebooks of
notebooks/ are listed, JupyterLab's page is served and the notebooks' kernel is the book's. Then
the first chapter runs cell by cell through the server's kernel API (a websocket, as JupyterLab
does), which proves the kernel imports the installed `mnist_helpers` and loads the data; the
same notebook is opened in JupyterLab in headless Chromium (screenshot:
book/_build/screenshots/jupyterlab.png). Every chapter is then opened there as a reader sees it,
with jupyterlab-myst rendering its Markdown: no MyST role or backtick directive fence shows as
text, and sampled sentences quote the same numbers as the website's page of that chapter (built
once here, as `make book` does). Last, the server is shut down through its API.
"""
import asyncio
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import site_checks as sc
from test_prose import ROLE  # what a MyST role looks like: {name}`...`

from mnist_helpers import prose

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
CELL_TIMEOUT = 600  # seconds for one cell in fast mode; generous for a loaded 2-core CI machine
# What the kernel reports about itself: where Python and the helpers come from, and the data.
PROBE = """import json, os, sys
import mnist_helpers as mh
(x_train, y_train), (x_test, y_test) = mh.load_mnist()
print(json.dumps({"pid": os.getpid(), "prefix": sys.prefix, "helpers": mh.__file__, "cwd": os.getcwd(),
                  "fast": mh.fast_mode(), "shapes": [list(x_train.shape), list(x_test.shape)]}))"""


@dataclass
class Lab:
    url: str
    token: str
    process: subprocess.Popen
    log: Path

    def get(self, path: str, token: bool = True):
        """GET ``path`` with the token in the Authorization header; (status, body)."""
        return self.request("GET", path, token=token)

    def request(self, method: str, path: str, body=None, token: bool = True):
        headers = {"Authorization": f"token {self.token}"} if token else {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_chapter() -> str:
    """The first notebook in the book's reading order."""
    return next(p for p in sc.toc_docnames(ROOT / "book" / "_toc.yml") if p.startswith("notebooks/"))


@pytest.fixture(scope="module")
def committed():
    """The chapter the tests run and open, as it was before JupyterLab started."""
    return (ROOT / f"{_first_chapter()}.ipynb").read_bytes()


@pytest.fixture(scope="module")
def kernel_pids():
    """Process ids of the kernels the tests ran code on, to check that shutdown ends them."""
    return []


@pytest.fixture(scope="module")
def lab(tmp_path_factory, committed):
    home = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    # The reader's own Jupyter settings and running servers are neither read nor touched.
    env = dict(os.environ, MNIST_FAST="1", JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    # JupyterLab settings of this test: never autosave (the committed notebooks must stay as
    # they are) and do not ask about Jupyter news (it would cover the screenshot).
    for plugin, settings in {"docmanager-extension/plugin": {"autosave": False},
                             "apputils-extension/notification": {"fetchNews": "false"},
                             # every cell in the page, not only those scrolled into view
                             "notebook-extension/tracker": {"windowingMode": "none"}}.items():
        path = home / "settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    # expose_app_in_browser: window.jupyterapp, through which the every-chapter test opens the
    # chapters one after the other in one JupyterLab page (a page load per chapter cost 3.6 s each).
    args = (f"--no-browser --ServerApp.ip=127.0.0.1 --IdentityProvider.token={token} "
            "--LabApp.expose_app_in_browser=True")
    if os.geteuid() == 0:
        args += " --allow-root"  # CI containers run as root; a reader's `make lab` does not
    # -o: never re-run `setup` from here; BIN: the tools of the interpreter running the tests.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "lab",
               f"BIN={Path(sys.executable).parent}", f"LAB_PORT={port}", f"LAB_ARGS={args}"]
    log = home / "lab.log"
    with open(log, "w") as out:
        # Its own process group, so that cleanup can stop make and the server it started.
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Lab(f"http://127.0.0.1:{port}/", token, process, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"`make lab` exited with {process.returncode}:\n{server.log_tail()}")
            try:
                if server.get("api/status")[0] == 200:
                    break
            except OSError:
                pass  # not listening yet
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 120 s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        if process.poll() is None:
            try:
                server.request("POST", "api/shutdown")
                process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


# ------------------------------------------------------------------ the kernel API

async def _run_cells(ws_url: str, token: str, codes: list[str]) -> list[dict]:
    """Execute ``codes`` one after the other on a kernel over its websocket, like JupyterLab.

    Returns, per cell, ``{"status": ..., "outputs": [iopub messages]}``.
    """
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    connection = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"}))
    session, results = uuid.uuid4().hex, []
    try:
        for code in codes:
            msg_id = uuid.uuid4().hex
            await connection.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "reader",
                           "session": session, "date": datetime.now(timezone.utc).isoformat(),
                           "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
            }))
            status, outputs, idle = None, [], False
            while status is None or not idle:  # the reply and the kernel going idle, any order
                raw = await asyncio.wait_for(connection.read_message(), CELL_TIMEOUT)
                if raw is None:
                    raise ConnectionError("the kernel's websocket closed")
                message = json.loads(raw)
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = message["msg_type"]
                if kind == "execute_reply":
                    status = message["content"]["status"]
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    idle = True
                elif kind in ("stream", "display_data", "execute_result", "error"):
                    outputs.append(message)
            results.append({"status": status, "outputs": outputs})
    finally:
        connection.close()
    return results


def _error_text(result: dict) -> str:
    errors = [m["content"] for m in result["outputs"] if m["msg_type"] == "error"]
    return "\n".join(f"{e['ename']}: {e['evalue']}" for e in errors)


# ------------------------------------------------------------------ the tests, in order

def test_the_token_is_required(lab):
    assert lab.get("api/contents", token=False)[0] == 403
    assert lab.get("api/contents")[0] == 200


def test_the_notebooks_are_listed(lab):
    status, body = lab.get("api/contents/")
    listed = sorted(item["name"] for item in json.loads(body)["content"] if item["type"] == "notebook")
    assert status == 200 and listed == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) != []


def test_jupyterlab_itself_is_served(lab):
    status, body = lab.get("lab")
    assert status == 200 and "jupyter-config-data" in body and "JupyterLab" in body


def test_the_notebooks_kernel_is_this_environment(lab):
    status, body = lab.get("api/kernelspecs")
    specs = json.loads(body)["kernelspecs"]
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        recorded = json.loads(path.read_text())["metadata"]["kernelspec"]
        name = recorded["name"]
        assert name in specs, f"{path.name} asks for kernel {name!r}; the server has {sorted(specs)}"
        # The kernel runs the Python of the environment where `make setup` installed the helpers.
        argv0 = Path(specs[name]["spec"]["argv"][0])
        assert argv0.parent == Path(sys.executable).parent, f"{name} runs {argv0}, not {sys.executable}"
        # JupyterLab writes the kernel's display name into the notebook it opens: another name
        # than the recorded one would mark the chapter as changed at once.
        assert specs[name]["spec"]["display_name"] == recorded["display_name"], path.name


def test_no_notebook_edits_sys_path():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        assert not [c for c in cells if c["cell_type"] == "code" and "sys.path" in "".join(c["source"])], path.name


def test_a_chapter_runs_through_the_servers_kernel(lab, kernel_pids):
    chapter = _first_chapter()
    notebook = json.loads((ROOT / f"{chapter}.ipynb").read_text())
    name = Path(chapter).name + ".ipynb"
    # As JupyterLab does when a reader opens the notebook: a session for it, with its kernel.
    status, body = lab.request("POST", "api/sessions", {
        "path": name, "type": "notebook", "name": name,
        "kernel": {"name": notebook["metadata"]["kernelspec"]["name"]}})
    assert status == 201, body
    kernel_id = json.loads(body)["kernel"]["id"]
    ws_url = lab.url.replace("http://", "ws://") + f"api/kernels/{kernel_id}/channels"

    code_cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    # asyncio.run() on a thread of its own: in this process Playwright's sync API (the session's
    # browser, tests/conftest.py) may already keep an event loop running on the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.submit(asyncio.run, _run_cells(ws_url, lab.token, [PROBE] + ["".join(c["source"])
                                                                                for c in code_cells])).result()

    probe = results[0]
    assert probe["status"] == "ok", _error_text(probe)
    facts = json.loads(next(m["content"]["text"] for m in probe["outputs"] if m["msg_type"] == "stream"))
    kernel_pids.append(facts["pid"])
    assert Path(facts["prefix"]) == Path(sys.prefix)  # the book's environment...
    assert Path(facts["helpers"]) == ROOT / "mnist_helpers" / "__init__.py"  # ...its installed helpers
    assert Path(facts["cwd"]) == NOTEBOOKS and facts["fast"] is True
    assert facts["shapes"] == [[60000, 28, 28], [10000, 28, 28]]
    for i, (cell, result) in enumerate(zip(code_cells, results[1:])):
        assert result["status"] == "ok", f"{name}, code cell {i}: {_error_text(result)}"
        committed_figures = sum("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        figures = sum("image/png" in m["content"].get("data", {}) for m in result["outputs"])
        assert figures == committed_figures, f"{name}, code cell {i}: {figures} figures, committed {committed_figures}"


def test_the_chapter_opens_in_jupyterlab_in_a_browser(lab, browser):
    chapter = Path(_first_chapter()).name + ".ipynb"
    kernel = json.loads((NOTEBOOKS / chapter).read_text())["metadata"]["kernelspec"]["name"]
    display_name = json.loads(lab.get("api/kernelspecs")[1])["kernelspecs"][kernel]["spec"]["display_name"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught exception: {exc}"))
    page.goto(f"{lab.url}lab/tree/{chapter}?token={lab.token}")
    # The notebook is rendered (its title) and its kernel is connected and idle, as the
    # status bar tells the reader: "<kernel display name> | Idle".
    page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownCell h1", timeout=60_000)
    page.get_by_text(f"{display_name} | Idle").wait_for(timeout=60_000)
    listed = page.locator(".jp-DirListing-itemText").all_inner_texts()
    page.screenshot(path=str(SCREENSHOTS / "jupyterlab.png"))
    page.close()
    assert problems == []
    assert sorted(t for t in listed if t.endswith(".ipynb")) == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


# ------------------------------------------------------------------ every chapter reads in JupyterLab

# A word of plain prose (no markup, no quotes, which the renderers typeset differently).
PLAIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9,;()-]*")


def _plain(text: str) -> str:
    return " ".join(text.split())


def sampled_sentences(notebook: dict, count: int = 3) -> list[str]:
    """``count`` snippets of visible prose, each ending in a number the run produced.

    A snippet is the two plain words before a marked number and the number itself, e.g.
    ``"validation accuracy 97.37%"``: the same text must appear in JupyterLab and on the website.
    They are spread over the chapter (first, middle, last of the candidates).
    """
    found = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown" or cell["metadata"].get("jupyter", {}).get("source_hidden"):
            continue
        for line in "".join(cell["source"]).splitlines():
            for match in prose.MARKER.finditer(line):
                before = prose.MARKER.sub(lambda m: m["text"], line[:match.start()]).split()[-2:]
                number = match["text"]
                if (len(before) == 2 and all(PLAIN_WORD.fullmatch(w) for w in before)
                        and re.fullmatch(r"[\d.,%]+(?: \w+)?", number)):
                    found.append(f"{before[0]} {before[1]} {number}")
    if len(found) <= count:
        return found
    return [found[round(i * (len(found) - 1) / (count - 1))] for i in range(count)]


@pytest.fixture(scope="module")
def website(book_build):
    """The chapters' web pages as text (`make book`, built once per session): {notebook stem: text}."""
    from bs4 import BeautifulSoup

    pages = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        page = BeautifulSoup((book_build["html"] / "notebooks" / f"{path.stem}.html").read_text(), "html.parser")
        # No separator between text nodes: a glued number's comment splits its paragraph's text into
        # nodes, and "sigmoid" + ", scores" must read "sigmoid, scores" as the browser shows it.
        pages[path.stem] = _plain(page.find("article").get_text(""))
    return pages


def test_the_sampler_finds_numbers():
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": [
        "It reaches <!-- glue a:.2% -->99.58%<!-- /glue --> on the validation images, then\n",
        "**x** *y* <!-- glue b -->3<!-- /glue --> and the last layer <!-- glue c:.1f -->0.5<!-- /glue -->.\n"]},
        {"cell_type": "markdown", "metadata": {"jupyter": {"source_hidden": True}},
         "source": ["the hidden one <!-- glue d -->7<!-- /glue -->"]}]}
    assert sampled_sentences(notebook) == ["It reaches 99.58%", "last layer 0.5"]


# True once every given sentence is in the rendered Markdown cells (whitespace normalized).
RENDERED_JS = """sentences => {
  const text = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownCell'))
    .map(cell => cell.innerText).join(' ').split(/\\s+/).join(' ');
  return sentences.every(sentence => text.includes(sentence));
}"""


# Closes every tab, then opens the notebook (JupyterLab's own command, through window.jupyterapp).
# The tabs are disposed rather than closed: nothing can then ask to save, or write, a committed file.
OPEN_ALONE_JS = """async path => {
  const app = window.jupyterapp;
  for (const widget of Array.from(app.shell.widgets('main'))) {
    widget.dispose();
  }
  await app.commands.execute('docmanager:open', {path});
}"""


# Once its kernel has started (JupyterLab writes the kernel's name and language into the notebook
# then), the chapter must still be unchanged: otherwise its tab shows the unsaved dot and
# closing it asks "Save your work".
UNCHANGED_ONCE_KERNEL_STARTED_JS = """async () => {
  const widget = window.jupyterapp.shell.currentWidget;
  await widget.sessionContext.ready;
  const kernel = widget.sessionContext.session?.kernel;
  if (!kernel) return 'no kernel started';
  // The notebook panel writes the metadata in its own callbacks on these two promises, which were
  // registered before this one's, so they have run once both have resolved.
  await kernel.info;
  await kernel.spec;
  await new Promise(resolve => setTimeout(resolve, 0));
  return !widget.context.model.dirty;
}"""


def test_every_chapter_reads_in_jupyterlab_as_on_the_website(lab, website, browser):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    problems = []
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{lab.url}lab?reset&token={lab.token}")  # ?reset: a fresh workspace
    page.wait_for_function("window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("() => window.jupyterapp.started")
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = json.loads(path.read_text())
        # As a reader opens it from the file browser, with every other tab closed first, so that
        # this chapter is the only notebook in the page.
        page.evaluate(OPEN_ALONE_JS, path.name)
        page.wait_for_selector(".jp-NotebookPanel .jp-MarkdownCell h1", timeout=60_000)
        cells = page.locator(".jp-NotebookPanel .jp-MarkdownCell")
        expected = sum(cell["cell_type"] == "markdown" for cell in notebook["cells"])
        page.wait_for_function(f"document.querySelectorAll('.jp-NotebookPanel .jp-MarkdownCell').length "
                               f">= {expected}", timeout=60_000)
        sentences = sampled_sentences(notebook)
        # jupyterlab-myst fills the cells in after they appear: wait until the sentences show, or 30 s.
        try:
            page.wait_for_function(RENDERED_JS, arg=sentences, timeout=30_000)
        except PlaywrightTimeout:
            pass  # the comparison below names what is missing
        text = _plain(" ".join(cells.all_inner_texts()))
        unchanged = page.evaluate(UNCHANGED_ONCE_KERNEL_STARTED_JS)
        if unchanged is not True:
            problems.append(f"{path.name}: opening it marked it as changed (a reader would be asked to save it)"
                            if unchanged is False else f"{path.name}: {unchanged}")
        if path.stem == "02_classic_baselines":
            page.get_by_text("Exercise 1", exact=True).first.scroll_into_view_if_needed()
            page.screenshot(path=str(SCREENSHOTS / "jupyterlab_exercises.png"))
        if ROLE.search(text):
            problems.append(f"{path.name}: a role shows as text: {ROLE.search(text)[0]!r}")
        if "```{" in text:
            problems.append(f"{path.name}: a directive fence shows as text")
        if len(sentences) < 3:
            problems.append(f"{path.name}: only {len(sentences)} sentences to compare")
        for sentence in sentences:
            for view, shown in (("JupyterLab", text), ("the website", website[path.stem])):
                if sentence not in shown:
                    problems.append(f"{path.name}: {view} does not show {sentence!r}")
    page.close()
    # The opened notebooks' kernels end with the server (test_shutdown_stops_everything).
    assert not problems, "\n".join(problems)


def test_running_and_opening_the_chapter_left_it_unchanged(lab, committed):
    assert (ROOT / f"{_first_chapter()}.ipynb").read_bytes() == committed


def test_shutdown_stops_everything(lab, kernel_pids):
    status, _ = lab.request("POST", "api/shutdown")
    assert status == 200
    assert lab.process.wait(timeout=60) == 0  # make, and the server it started, have exited
    assert kernel_pids, "the kernel test did not run"
    for pid in kernel_pids:  # the kernel went with the server
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(lab.url.rsplit(":", 1)[1].strip("/"))), timeout=2)
