"""Curation of the shipped profiles: turning published benchmark tables and reference measurements into profiles.

Maintainer tools, run by hand when a source changes; nothing here is needed to use e3gym or to
profile new hardware (that is :mod:`e3gym.profiler`). Each module builds the profile dataclasses of
:mod:`e3gym.core.profiles` and writes them through its writer, so the files keep the one shipped layout:

* ``convert``: the measured reference files (``profile_ref.py``), the transcribed MLPerf tables in
  ``profiles/sources`` and the calibrated devices made from both (``python -m e3gym.curation.convert``);
* ``ans_tables``: the per-cut tables of the ANS paper (``python -m e3gym.curation.ans_tables``);
* ``reference``: per-block FLOPs and parameter bytes of ``models/torchvision.json`` (needs torchvision;
  ``python -m e3gym.curation.reference``).
"""
