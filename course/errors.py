"""The one exception type for problems a user can fix (an unknown lesson, a missing file, no
CIFAR-10 where it was looked for): its message says what to do. The ``course`` command prints
it and exits with status 2; library code raises it instead of exiting."""


class CourseError(Exception):
    """A problem the user can fix: the message says how."""
