"""The system models: pure numpy, no Gymnasium, no torch.

One module per concept: ``cluster`` (the joint request timeline: ``serve`` and ``predict``),
``payload``, ``radio``, ``network``, ``workload``, ``profiles``, and the seed settings' models ``ans``
(Autodidactic Neurosurgeon's partition system) and ``fading`` (Yan et al.'s co-inference over fading).
"""
