"""The start-here environment check: one ``[OK]`` or ``[FAIL]`` line per requirement.

Run it from a shell with ``python -m bltlib.envcheck``, or call :func:`check_environment`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from dataclasses import dataclass

REQUIRED = {
    "torch": "2.4",
    "numpy": "1.26",
    "einops": "0.8",
    "regex": "2024.0",
    "plotly": "6.0",
    "ipywidgets": "8.1",
    "anywidget": "0.9",
    "jupyterlab": "4.2",
    "tqdm": "4.66",
    "safetensors": "0.4",
    "transformers": "5.23",
}


@dataclass
class Requirement:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"[{'OK' if self.ok else 'FAIL'}] {self.name}: {self.detail}"


def _version_tuple(version: str) -> tuple[int, ...]:
    """``"2.13.0+cpu"`` -> ``(2, 13, 0)``: enough to compare against our minimums.

    >>> _version_tuple("2.13.0+cpu") >= _version_tuple("2.4")
    True
    """
    parts = []
    for piece in version.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def check_package(name: str, minimum: str) -> Requirement:
    try:
        importlib.import_module(name)
        version = importlib.metadata.version(name)
    except Exception as exc:  # any import failure is what the learner must see
        return Requirement(
            name, False, f"cannot import ({type(exc).__name__}: {exc}); run `make lab` to install"
        )
    ok = _version_tuple(version) >= _version_tuple(minimum)
    return Requirement(name, ok, f"{version}" + ("" if ok else f" (need >= {minimum})"))


def check_environment() -> list[Requirement]:
    """Python, every runtime package, the widget extension, and the vendored corpora."""
    report = [Requirement("python", sys.version_info >= (3, 10), f"{sys.version.split()[0]} (need >= 3.10)")]
    report += [check_package(name, minimum) for name, minimum in REQUIRED.items()]
    report.append(_check_widgets_extension())
    report.append(_check_corpora())
    return report


def _check_widgets_extension() -> Requirement:
    # JupyterLab shows widgets only when the lab extension is installed next to the kernel's packages.
    name = "jupyterlab_widgets"
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return Requirement("widget extension", False, f"{name} missing: sliders will not render")
    return Requirement("widget extension", True, f"{name} {version}")


def _check_corpora() -> Requirement:
    try:
        from bltlib import data

        sizes = {name: len(data.load_bytes(name)) for name in data.corpus_names()}
    except Exception as exc:
        return Requirement("vendored corpora", False, f"{type(exc).__name__}: {exc}")
    listing = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items())
    return Requirement("vendored corpora", all(sizes.values()), listing)


def main() -> int:
    report = check_environment()
    for item in report:
        print(item)
    failed = [item.name for item in report if not item.ok]
    print("All requirements met." if not failed else f"Fix these first: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
