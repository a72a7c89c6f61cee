"""Instructor and self-learner tools: ``course release`` (:mod:`.releases`), running a notebook
in a kernel (:mod:`.execution`), the course cells every release gets from one template and the
Colab links (:mod:`.course_cells`), building source notebooks in code (:mod:`.authoring`),
``course check`` (:mod:`.selfcheck`), ``course lab`` and the Jupyter settings the course ships
(:mod:`.lab`), the summary in nbgrader's Validate dialog (:mod:`.validation`) and ``course site``
(:mod:`.site`). They stand on the runtime and the checkout layer (:mod:`course.checkout`);
neither the notebooks' runtime nor the grading wing imports them, and they never import the
grading wing (``course demo``, which runs both, is :mod:`course.cli.demo`)."""
