"""ESC/POS receipt printers: byte encoder, status parsing, the ReceiptPrinter driver and
its emulator."""
