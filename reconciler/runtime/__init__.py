"""Where agents live: the runtime seam and its implementations."""
