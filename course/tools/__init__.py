"""Instructor and self-learner tools: lesson files and releases (:mod:`.notebooks`), the course
cells every release gets from one template and the Colab links (:mod:`.course_cells`), building
source notebooks in code (:mod:`.authoring`), ``course check`` (:mod:`.selfcheck`), ``course
demo`` (:mod:`.demo`), ``course lab`` and the Jupyter settings the course ships (:mod:`.lab`),
and the summary in nbgrader's Validate dialog (:mod:`.validation`). Nothing here is imported by
the notebooks' runtime."""
