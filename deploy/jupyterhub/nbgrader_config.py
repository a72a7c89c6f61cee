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
