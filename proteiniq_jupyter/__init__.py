"""proteiniq-jupyter: protein and molecule tools as tracked jobs in Jupyter."""

__version__ = "0.1.0"
