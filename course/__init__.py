"""Helper package for *Residual Networks, hands-on*.

The library holds what lessons *use* (data, training loop, checks, notebook tooling, CLI);
it never implements a graded exercise. Importing ``course`` is cheap: submodules that pull in
torch are imported on first use.
"""

__version__ = "0.1.0"
# Where the course is published: the one setting behind the "Open in Colab" links and the
# package that Colab installs (tag v<__version__> of this repository).
__repository__ = "https://github.com/resnets-hands-on/resnets-hands-on"
