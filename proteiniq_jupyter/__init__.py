"""proteiniq-jupyter: protein and molecule tools as tracked jobs in Jupyter."""

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    """Jupyter finds the server extension through the package itself."""
    from .server import _jupyter_server_extension_points as points

    return points()
