# bash start-up file of JupyterLab terminals started by the course's Jupyter settings
# (course/tools/lab.py): the usual interactive start-up, then the course environment first on
# PATH, so `course` and `jupyter` are found even after a login shell reset PATH.
[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
[ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"
if [ -n "$COURSE_SCRIPTS" ]; then
  case ":$PATH:" in
    *":$COURSE_SCRIPTS:"*) ;;
    *) export PATH="$COURSE_SCRIPTS:$PATH" ;;
  esac
fi
