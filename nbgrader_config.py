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
