"""The brokerage web page: its routes, sign-in, refusals as pages, the form and its wording, templates, static files."""
