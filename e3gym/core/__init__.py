"""The system models: pure numpy, no Gymnasium, no torch.

One module per concept: ``cluster`` (the joint request timeline: ``serve`` and ``predict``),
``payload``, ``radio``, ``network``, ``workload``, ``profiles``, and the seed settings' models: ``cut_tables``
(Autodidactic Neurosurgeon's per-cut tables), ``partition`` (its partition system: the frame timeline,
``serve`` and ``predict``) and ``coinference`` (Yan, Bi, Zhang's device-edge co-inference over a fading
channel: splitting and placement).
"""
