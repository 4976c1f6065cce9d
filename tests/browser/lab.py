"""Drive a real JupyterLab in Debian's chromium: start a server, open a notebook, run it, read the DOM.

Used by the ``browser``-marked tests (``make test-browser``). The server listens on 127.0.0.1 with a
random token, in throwaway config/runtime/settings folders, and is always shut down.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No background connections: the network is closed and chromium retries them endlessly.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
LAB_SETTINGS = {
    # No "Jupyter news" toast, no request for it.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    # Start python3 without asking, so no kernel-selection dialog blocks Run All; render every cell
    # (by default JupyterLab renders only the cells in view, and the DOM would miss the others).
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_up_to(source: Path, marker: str, destination: Path) -> int:
    """Copy ``source`` up to the first code cell containing ``marker``, outputs cleared.

    Returns the number of code cells kept."""
    notebook = nbformat.read(source, as_version=4)
    index = next(
        (i for i, c in enumerate(notebook.cells) if c.cell_type == "code" and marker in c.source), None
    )
    if index is None:
        raise ValueError(f"{source.name} has no code cell containing {marker!r}")
    notebook.cells = notebook.cells[: index + 1]
    return write_clean(notebook, destination)


class Lab:
    """A JupyterLab server serving ``root``; ``api`` calls its REST API with the token."""

    def __init__(
        self, workdir: Path, env: dict[str, str] | None = None, settings: dict[str, dict] | None = None
    ):
        self.workdir = workdir
        self.root = workdir / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        for relative, body in (LAB_SETTINGS if settings is None else settings).items():
            path = workdir / "settings" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(body))
        self.env = {
            **os.environ,
            **(env or {}),
            "JUPYTER_CONFIG_DIR": str(workdir / "config"),
            "JUPYTER_RUNTIME_DIR": str(workdir / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(workdir / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
        }
        self.log_path = workdir / "server.log"
        self.process: subprocess.Popen | None = None
        self.cwd: Path | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            "--port-retries=0", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            "--allow-root", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
        ]  # fmt: skip

    def start(self, timeout: float = 90) -> None:
        command = self.command()
        log = open(self.log_path, "w")  # the server writes to it until it stops
        self.process = subprocess.Popen(
            command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=self.cwd
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {timeout:.0f} s")

    def api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"{self.base}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?reset&token={self.token}"

    def open_session(self, notebook: str) -> None:
        """Start the notebook's python3 kernel before the page opens: no kernel dialog."""
        self.api("POST", "/api/sessions", {"path": notebook, "name": notebook, "type": "notebook",
                                            "kernel": {"name": "python3"}})  # fmt: skip

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            self.api("POST", "/api/shutdown")  # also shuts its kernels down
        except OSError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class MakeLab(Lab):
    """``make lab`` itself, as a learner starts it, on the repository ``repo``: only a port, a token and
    ``--no-browser`` are added (through ``LAB_EXTRA``), and no user settings are written, so what the
    page shows comes from the Makefile and ``lab-settings/`` alone."""

    def __init__(self, workdir: Path, repo: Path):
        super().__init__(workdir, env={"BLTLIB_SCALE": "ci"}, settings={})
        self.root = self.cwd = repo

    def command(self) -> list[str]:
        extra = (
            f"--no-browser --ip=127.0.0.1 --port={self.port} --port-retries=0 "
            f"--IdentityProvider.token={self.token}"
        )
        return ["make", "--no-print-directory", "lab", f"LAB_EXTRA={extra}"]


def copy_clean(source: Path, destination: Path) -> int:
    """Copy a notebook with its outputs cleared; returns the number of code cells."""
    return write_clean(nbformat.read(source, as_version=4), destination)


def write_clean(notebook: nbformat.NotebookNode, destination: Path) -> int:
    """Write ``notebook`` without outputs (what the DOM shows must come from this run); returns the
    number of code cells."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.metadata.pop("widgets", None)
    nbformat.write(notebook, destination)
    return sum(cell.cell_type == "code" for cell in notebook.cells)


EXECUTED_PROMPTS = r"""n => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
    .filter(p => /^\[\d+\]/.test(p.textContent.trim())).length >= n"""


def run_all_cells(page, n_code_cells: int, timeout_ms: int = 300_000) -> None:
    """Run > Run All Cells from the menu bar, as a learner would, and wait until every cell has run."""
    # The indicator says idle before the kernel's connection is ready; a Run All sent then is lost.
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    page.wait_for_timeout(2000)
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Run", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
    page.wait_for_function(EXECUTED_PROMPTS, arg=n_code_cells, timeout=timeout_ms)
    wait_idle(page)


def wait_idle(page, timeout_ms: int = 180_000) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=timeout_ms)


def open_and_run(lab, page, notebook: str, n_code_cells: int) -> None:
    """Open ``notebook`` (under the lab's root) in JupyterLab and run all its cells, as a learner would."""
    lab.open_session(notebook)
    page.goto(lab.url(notebook), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    wait_idle(page)
    run_all_cells(page, n_code_cells)
