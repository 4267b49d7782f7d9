"""The wall page: its layout and its callbacks."""
