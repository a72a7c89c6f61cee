"""A lesson's reference answers (the solution cells of ``solutions/<id>/<id>.ipynb``) as Python.

For tests that compare a lesson's own code with an independent computation::

    ns = answers("03_one_by_one_convolutions", "conv_params", "conv_mults")
    ns["conv_mults"](28, 28, 192, 32, 5)
"""

from __future__ import annotations

from conftest import ROOT

from course.checkout import Checkout, notebooks


def answers(lesson: str, *names: str) -> dict:
    """Run the answer cells ``names`` (in this order, markers removed); return their namespace."""
    try:
        return notebooks.answer_namespace(Checkout(ROOT).source(lesson), names, f"lesson_{lesson}")
    except KeyError as exc:
        raise AssertionError(str(exc)) from None
