"""Instructor and self-learner tools: lesson files and releases (:mod:`.notebooks`), building
source notebooks in code (:mod:`.authoring`), ``course check`` (:mod:`.selfcheck`) and
``course demo`` (:mod:`.demo`). Nothing here is imported by the notebooks' runtime."""
