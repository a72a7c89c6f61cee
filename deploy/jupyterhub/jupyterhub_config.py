# JupyterHub settings for the course on one machine (real Unix users, each server started as
# its user): install as /etc/jupyterhub/jupyterhub_config.py, or pass with `jupyterhub -f`.
# Recipe: docs/JUPYTERHUB.md. tests/test_jupyterhub_real.py runs a hub with exactly this file
# (plus a test authenticator, ports and a service token).
import os

c = get_config()  # noqa: F821 (provided by JupyterHub)

# Each user's server is a process of that Unix user (the hub runs as root). The Littlest
# JupyterHub uses systemd units instead; Zero to JupyterHub (Kubernetes) one pod per user.
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

# What every user's server sees:
#   COURSE_CHECKOUT   the course checkout, read-only to all (deploy/jupyterhub/nbgrader_config.py)
#   NBGRADER_EXCHANGE nbgrader's exchange: mkdir -p DIR && chmod 1777 DIR (as root)
#   COURSE_DATA       CIFAR-10, downloaded once by root (`course data download --data DIR`),
#                     then `chmod -R a+rX,go-w DIR`: every user reads it, nobody changes it
c.Spawner.environment = {
    "COURSE_CHECKOUT": os.environ.get("COURSE_CHECKOUT", "/srv/resnets-hands-on"),
    "NBGRADER_EXCHANGE": os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange"),
    "COURSE_DATA": os.environ.get("COURSE_DATA", "/srv/course-data"),
}
if os.environ.get("JUPYTER_CONFIG_PATH"):  # the hub-wide Jupyter settings, if not /etc/jupyter
    c.Spawner.environment["JUPYTER_CONFIG_PATH"] = os.environ["JUPYTER_CONFIG_PATH"]
