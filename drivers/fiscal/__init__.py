"""Fiscal devices: signature creation units and fiscal cashboxes (Austrian RKSV in ``rksv``)."""
