"""``python -m course.checkout.nbgrader_cli ARGS``: nbgrader's command line as the course starts
it (:meth:`course.checkout.Checkout.generate_assignments`), the same commands and results with
two start-up costs left out:

* rfc3987-syntax under jsonschema (``import course``: see ``course/__init__.py``);
* ``alembic heads`` in a subprocess: a gradebook nbgrader creates asks it for the schema's
  revision (``nbgrader.api.get_alembic_version``), a second Python process, about 1 s of CPU per
  new gradebook (every release made in a fresh copy of the checkout has one). The same revision
  is read here from nbgrader's own migration scripts with alembic's ``ScriptDirectory``
  (:func:`alembic_head`; ``tests/test_tooling.py`` checks that both agree).
"""

from __future__ import annotations

import sys

import course  # noqa: F401 - first: it keeps jsonschema from importing rfc3987-syntax


def alembic_head() -> str:
    """The head revision of nbgrader's gradebook schema, as ``alembic heads`` prints it."""
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    if not head:
        raise RuntimeError(f"no alembic head revision in {ALEMBIC_DIR}")
    return head


def main(argv: list[str] | None = None) -> int:
    import nbgrader.api
    from nbgrader.apps.nbgraderapp import NbGraderApp

    nbgrader.api.get_alembic_version = alembic_head
    NbGraderApp.launch_instance(argv=sys.argv[1:] if argv is None else argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
