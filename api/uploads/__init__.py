"""Upload audits: a child process under time and memory limits, its side of the work, and body size limits."""
