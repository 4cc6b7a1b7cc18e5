"""Reference generators: the auxiliary tasks (translation, tone) applied to ground-truth texts."""
