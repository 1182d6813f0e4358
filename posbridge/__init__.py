"""posbridge: the mPOS hardware bridge daemon."""

__version__ = "0.1.0"
