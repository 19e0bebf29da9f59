"""Reproduce the generator weights in ``weights/`` from folders of paintings and face photos."""
