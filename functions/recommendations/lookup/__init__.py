"""Recommendations lookup API: a user's items in the current generation, or the popular ones."""
