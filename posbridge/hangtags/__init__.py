"""Hang tags: products, pricebooks and prices imported ahead of time, resolved into tag data.

``catalog`` is the local SQLite store (products, pricebooks, prices) and its importers;
``pricing`` turns a list of items (product ids, copies, optional inline data) into the
context a tag template renders; ``gtin`` and ``money`` validate and format the values a
tag shows; ``errors`` holds :class:`~posbridge.hangtags.errors.HangTagError`, the one
exception all of them raise.
"""
