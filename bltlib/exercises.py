"""Make a learner's exercise notebook from its solution notebook.

A solution cell marks the part the learner writes with ``### BEGIN SOLUTION`` and ``### END SOLUTION``
(nbgrader's convention). The exercise keeps everything else and puts ``# YOUR CODE HERE`` plus
``raise NotImplementedError()`` in place of the marked lines, at their indentation. Teachers can use
this for their own notebooks: ``python -m bltlib.exercises solutions/01_bpe.ipynb exercises/01_bpe.ipynb``.

>>> print(strip_solution('''def f(x):
...     ### BEGIN SOLUTION
...     return 2 * x
...     ### END SOLUTION'''))
def f(x):
    # YOUR CODE HERE
    raise NotImplementedError()
"""

from __future__ import annotations

import copy
import sys

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
PLACEHOLDER = "# YOUR CODE HERE"


def strip_solution(source: str) -> str:
    """Replace every BEGIN/END SOLUTION block in a cell's source by the YOUR CODE HERE stub."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"line {number}: {BEGIN} inside another solution block")
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + PLACEHOLDER, indent + "raise NotImplementedError()"]
            inside = True
        elif marker == END:
            if not inside:
                raise ValueError(f"line {number}: {END} without a {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"a {BEGIN} block is never closed")
    return "\n".join(out)


def has_solution(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.splitlines())


def make_exercise(solution: dict) -> dict:
    """The exercise for a solution notebook (nbformat JSON): solutions stubbed, outputs cleared."""
    notebook = copy.deepcopy(solution)
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if has_solution(source):
            source = strip_solution(source)
        cell["source"] = source
        cell["outputs"], cell["execution_count"] = [], None
    return notebook


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python -m bltlib.exercises SOLUTION.ipynb EXERCISE.ipynb")
    solution = nbformat.read(argv[0], as_version=4)
    nbformat.write(nbformat.from_dict(make_exercise(solution)), argv[1])


if __name__ == "__main__":
    main(sys.argv[1:])
