"""Every Flask route beside the Dash pages (the HTTP API, static layers, downloads), from one route table."""
