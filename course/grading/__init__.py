"""The grading wing: everything ``course grade`` needs to grade untrusted notebooks.

It stands on the runtime and the checkout layer (:mod:`course.checkout`), never on the tools;
nothing in the student-facing runtime or the tools imports it.
"""
