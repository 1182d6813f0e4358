"""Tests of the Epson RT (FPMate XML) driver and emulator."""
