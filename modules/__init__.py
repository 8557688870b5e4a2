"""Reusable ComponentResources, one package per platform component."""
