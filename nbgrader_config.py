# nbgrader configuration for "Residual Networks, hands-on" — only the lines we set.
c = get_config()  # noqa: F821 (provided by nbgrader)

c.CourseDirectory.course_id = "resnets-hands-on"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# Per-cell time limit while autograding/validating. Every lesson skips long training under
# grading (course.runtime.is_grading), so no legitimate cell needs more than this on a CPU.
c.Execute.timeout = 120
# Minimal tracebacks: a failing test shows "AssertionError: <message>", never the lines of the
# hidden test that raised it. The history setting is nbgrader's own default for python kernels.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]

# Feedback never shows hidden tests (nbgrader shows them by default, upstream #917).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# Validate: the dialog's list of failures opens with a per-exercise summary (points, result,
# message). The hooks act only while validating (course/tools/validation.py).
try:
    from course.tools.validation import summary_hooks
except ImportError:  # the course package is not installed where this file is read
    pass
else:
    c.Execute.on_notebook_start, c.Execute.on_cell_start = summary_hooks()
