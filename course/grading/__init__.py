"""The grading wing: everything ``course grade`` needs to grade untrusted notebooks.

Nothing in the student-facing runtime imports this package.
"""
