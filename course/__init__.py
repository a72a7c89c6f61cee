"""Helper package for *Residual Networks, hands-on*.

The library holds what lessons *use* (data, training loop, checks, notebook tooling, CLI);
it never implements a graded exercise. Importing ``course`` is cheap: submodules that pull in
torch are imported on first use.
"""

__version__ = "0.1.0"
# Where the course is published: the one setting behind the "Open in Colab" links and the
# package that Colab installs (tag v<__version__> of this repository).
__repository__ = "https://github.com/resnets-hands-on/resnets-hands-on"


def _without_rfc3987_syntax() -> None:
    """Keep jsonschema from importing ``rfc3987_syntax`` in this process.

    nbformat validates notebooks with jsonschema, which imports rfc3987-syntax where it is
    installed (jsonschema's ``format-nongpl`` extra, which jupyter-events asks for); that package
    builds ~35 Earley parsers at import, about 1 s of CPU in every process that reads a notebook
    (python-jsonschema/jsonschema#1428): each student's staging subprocess of ``course grade``,
    every ``course`` command. It checks only the "iri" and "iri-reference" formats, which no
    notebook schema uses; jsonschema leaves out a format whose checker does not import. A process
    that imported jsonschema before ``course`` keeps what it has."""
    import sys

    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


_without_rfc3987_syntax()
