"""``e3gym validate``: the simulator measured against a real split execution.

A real pipeline (device processes that encode a JPEG or run the first blocks, an edge server that
runs the rest on ``k`` FIFO workers, length-prefixed TCP messages between them) runs over links
shaped in network namespaces (veth + tc tbf, delay in user space, trace replay), and the simulator
predicts the same requests from a profile measured on the same machine. The report gives the
median and p95 relative error per component and end to end, and how often the simulator's best
cut is the measured fastest.

Modules, one concept each: :mod:`~e3gym.validate.models` (small CNNs and their blocks),
:mod:`~e3gym.validate.frame` (the camera frame and JPEG), :mod:`~e3gym.validate.framing` (the
wire format), :mod:`~e3gym.validate.delay` (propagation in user space),
:mod:`~e3gym.validate.shaping` (rates over time, token bucket), :mod:`~e3gym.validate.netns`
(namespaces, veth, tc), :mod:`~e3gym.validate.procs` (child processes, pinning),
:mod:`~e3gym.validate.server` / :mod:`~e3gym.validate.device` (the two sides),
:mod:`~e3gym.validate.runner` (a session and one run), :mod:`~e3gym.validate.profiling`,
:mod:`~e3gym.validate.predict` (the simulator's side), :mod:`~e3gym.validate.compare` (errors,
decisions), :mod:`~e3gym.validate.grid` (the grid), :mod:`~e3gym.validate.report` (files),
:mod:`~e3gym.validate.cli` (the command).
"""
