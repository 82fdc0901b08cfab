"""The seed paper's method: a normalizing flow trained by the exact conditional likelihood."""
from .likelihood_flow import LikelihoodFlow

__all__ = ["LikelihoodFlow"]
