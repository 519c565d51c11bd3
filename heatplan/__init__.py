"""heatplan: deploy OpenStack Heat plans atomically, with Heat as the plan store."""

try:
    # the installed distribution's own version (0.0.1.dev72, not pbr's 0.0.1)
    from importlib import metadata as _metadata

    __version__ = _metadata.version('heatplan')
except Exception:  # pragma: no cover - not installed (running from a checkout)
    __version__ = '0.0.0'
