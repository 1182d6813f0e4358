"""ZPL II label printers: media settings, formats, ``~HS`` status, the driver and its emulator."""
