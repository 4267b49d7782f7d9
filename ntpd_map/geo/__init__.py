"""Geography: upstream boundary dumps, regions, user boundary files. No Dash here."""
