"""The pages of the dashboard: one package a page, holding its layout and its callbacks."""
