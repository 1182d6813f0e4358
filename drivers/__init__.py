"""drivers: a standalone library of transports, device drivers and emulators for POS hardware."""
