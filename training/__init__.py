"""Training feed-forward style generators (needs `restyle[train]`)."""
