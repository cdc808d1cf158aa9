"""Measures model and device profiles with torch on the machine it runs on (the ``profile`` extra).

``cli`` is ``e3gym profile``, ``listing`` is ``e3gym profiles``; ``measure``, ``cuts`` and ``flops`` time
and count the blocks; ``reference_partition`` is the top-level partition of the shipped torchvision
profiles (``--partition reference``) and ``families`` names a torchvision model's architecture family.
The profiles are written through the schema's writer in :mod:`e3gym.core.profiles`. Turning published
tables into the shipped profiles is :mod:`e3gym.curation`, which nothing here imports.
"""
