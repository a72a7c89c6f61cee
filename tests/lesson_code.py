"""A lesson's reference answers (the solution cells of ``solutions/<id>/<id>.ipynb``) as Python.

For tests that compare a lesson's own code with an independent computation::

    ns = answers("03_one_by_one_convolutions", "conv_params", "conv_mults")
    ns["conv_mults"](28, 28, 192, 32, 5)
"""

from __future__ import annotations

from conftest import ROOT

from course.tools import notebooks

PRELUDE = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"


def answers(lesson: str, *names: str) -> dict:
    """Run the answer cells ``names`` (in this order, markers removed); return their namespace."""
    path = notebooks.source_path(lesson, ROOT)
    cells = {
        notebooks.grade_id(c): notebooks.strip_markers(c.source)
        for c in notebooks.read(path).cells
        if c.cell_type == "code" and notebooks.is_solution(c)
    }
    missing = [n for n in names if n not in cells]
    assert not missing, f"{path} has no answer cell(s) {missing}"
    namespace: dict = {"__name__": f"lesson_{lesson}"}
    exec(compile(PRELUDE + "\n\n".join(cells[n] for n in names), str(path), "exec"), namespace)
    return namespace
