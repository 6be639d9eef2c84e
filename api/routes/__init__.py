"""The JSON API: its routes and what they use (service, schemas, responses, deps, approvals, fast path, docs)."""
