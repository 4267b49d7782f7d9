"""Who may do what: sign-in, the gate, API keys, users, display tokens and roles, and their commands."""
