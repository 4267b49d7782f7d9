"""Callbacks by concern, each module with register(app, ...)."""
