"""Generator architectures, registered by name."""
