"""The analytics page: its layout and its callbacks."""
