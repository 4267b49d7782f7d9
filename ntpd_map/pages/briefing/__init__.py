"""The briefing page: its layout and its callbacks."""
