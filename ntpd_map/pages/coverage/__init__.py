"""The coverage page: its layout and its callbacks."""
