"""Hostile and broken submissions for ``course grade``, generated in code (see fixtures.py)."""
