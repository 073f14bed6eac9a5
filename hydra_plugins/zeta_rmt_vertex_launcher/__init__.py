"""Hydra launcher plugin ``hydra/launcher=vertex``: every multirun job becomes a Vertex AI
CustomJob (see :mod:`.vertex_launcher` and docs/vertex_ai.md)."""
