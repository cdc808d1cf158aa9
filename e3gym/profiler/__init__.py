"""Measures model and device profiles with torch on the machine it runs on (the ``profile`` extra).

``cli`` is ``e3gym profile``, ``listing`` is ``e3gym profiles``; ``measure``, ``cuts`` and ``flops`` time
and count the blocks; ``convert``, ``ans_tables`` and ``reference`` curate published tables into
profiles.
"""
