"""One conformance suite for every runtime (tmux on a private server, the in-memory fake)."""
