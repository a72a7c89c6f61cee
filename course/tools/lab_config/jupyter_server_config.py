# Self-study JupyterLab (`course lab` puts this folder on JUPYTER_CONFIG_PATH).
# With labconfig/page_config.json: nbgrader's exchange-based Assignment List and Courses are off
# (self-study has no exchange); Validate, Create Assignment and the formgrader stay.
from course.tools.lab import configure_server

configure_server(c, self_study=True)  # noqa: F821 (c is provided by Jupyter)
