"""Video: decode, stylise in batches and encode, overlapped."""
