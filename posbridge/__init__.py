"""posbridge: the mPOS hardware bridge daemon."""
