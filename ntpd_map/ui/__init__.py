"""Page layouts as functions (def layout(...)), one module a page."""
