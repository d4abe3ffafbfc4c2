"""Inference backends behind one Protocol."""
