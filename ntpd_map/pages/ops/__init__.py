"""The ops page: its layout and its callbacks."""
