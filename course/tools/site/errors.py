"""The one error the site builder raises: a message that says what is wrong and where."""


class SiteError(Exception):
    """A problem with the course's content or tools that stops the build (shown to the user)."""
