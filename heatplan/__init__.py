"""heatplan: deploy OpenStack Heat plans atomically, with Heat as the plan store."""

try:
    from pbr.version import VersionInfo

    __version__ = VersionInfo('heatplan').version_string()
except Exception:  # pragma: no cover - not installed (running from a checkout)
    __version__ = '0.0.0'
