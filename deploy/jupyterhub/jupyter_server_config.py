# Jupyter server settings for every user of the hub: install as /etc/jupyter/jupyter_server_config.py
# (or add these lines to the one you have). docs/JUPYTERHUB.md has the recipe.
# The environment's commands (`course`) on PATH in notebooks and in JupyterLab's terminals,
# whose login shell would otherwise reset PATH; nbgrader's exchange stays on (it is real here).
from course.tools.lab import configure_server

configure_server(c, self_study=False)  # noqa: F821 (c is provided by Jupyter)
