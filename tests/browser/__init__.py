"""Browser tests: the real app served from a thread, driven by headless Chromium (marker ``browser``)."""
