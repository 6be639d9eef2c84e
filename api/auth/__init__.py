"""Who is asking, and may they: identity (tokens, sessions, single sign-on, roles), route guards, the users command."""
