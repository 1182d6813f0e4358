"""Barcode scanners: serial, keyboard-wedge (evdev) and USB HID POS, and their emulator."""
