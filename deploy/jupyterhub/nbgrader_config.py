# nbgrader settings for EVERY user of the hub: install as /etc/jupyter/nbgrader_config.py.
# Recipe and commands: docs/JUPYTERHUB.md. Instructors' course folders keep the course's own
# nbgrader_config.py (read after this one).
import os

c = get_config()  # noqa: F821 (provided by nbgrader)

# The course checkout on the hub, readable by every user (a copy of this repository).
COURSE_CHECKOUT = os.environ.get("COURSE_CHECKOUT", "/srv/resnets-hands-on")

# The course's own settings, so a student's Validate runs as grading does: course id, cell
# timeout, one-line error messages, the summary at the top of the Validate dialog.
load_subconfig(os.path.join(COURSE_CHECKOUT, "nbgrader_config.py"))  # noqa: F821

# nbgrader's exchange: one folder shared by all users. Create it once, as root:
#   mkdir -p /srv/nbgrader/exchange && chmod ugo+rwx,+t /srv/nbgrader/exchange
c.Exchange.root = os.environ.get("NBGRADER_EXCHANGE", "/srv/nbgrader/exchange")

# What `nbgrader submit` hands in: the notebook and checkpoints/ (lesson 05's trained model,
# ~85 MB, under the 100 MB max_file_size), never the resumable training state (runs/, ~170 MB
# per run) or a copy of CIFAR-10 (data/).
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "runs", "data"]
