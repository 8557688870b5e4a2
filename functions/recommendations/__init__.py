"""Batch recommender runtime: the loader of a generation of recommendations and the lookup API."""
