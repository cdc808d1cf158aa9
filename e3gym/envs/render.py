"""Render modes of the e3gym envs: lanes of busy intervals (recent requests) as an RGB image or text.

A :class:`Timeline` keeps the bars of the last ``keep`` requests. Each bar is a time interval on
one lane (a device, a link, a worker), coloured by the tier the request was served on. The image
has one band per lane, top to bottom in the lanes' order, and spans the bars' time range: column
``x`` covers ``[t0 + x dt, t0 + (x + 1) dt)`` with ``t0`` the earliest start, ``dt = (t1 - t0) /
width`` and ``t1`` the latest end, or ``t0 + max_span_s`` when that is sooner (one request stuck
for a minute would squash the rest; bars past ``t1`` are cut at the right edge). A bar's first
column is darker, so requests back to back on a lane stay apart. A panel of ``LABEL_PX`` columns on
the left names each lane (a 3x5 pixel font, so no font files or plotting library are needed).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Sequence

import gymnasium as gym
import numpy as np

from e3gym.errors import E3GymError

RENDER_MODES = ("rgb_array", "ansi")
RENDER_FPS = 4
TIER_COLOURS = np.array([[46, 160, 67],    # end: green
                         [31, 119, 230],   # edge: blue
                         [240, 140, 0]],   # cloud: orange
                        dtype=np.uint8)
TIER_EDGES = (TIER_COLOURS.astype(np.uint16) * 3 // 5).astype(np.uint8)  # a bar's first column
LANE_SHADES = np.array([[250, 250, 250], [228, 228, 228]], dtype=np.uint8)  # alternate lane backgrounds
LABEL_PX = 112  # the lane-name panel left of the bars: 13 characters
LABEL_INK = np.array([60, 60, 60], dtype=np.uint8)
# 3x5 glyphs, one string of 15 bits per character (rows top to bottom); unknown characters are blank.
GLYPHS = dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.", (
    "010101111101101", "110101110101110", "011100100100011", "110101101101110", "111100110100111",
    "111100110100100", "011100101101011", "101101111101101", "111010010010111", "001001001101010",
    "101101110101101", "100100100100111", "101111111101101", "110101101101101", "010101101101010",
    "110101110100100", "010101101110011", "110101110101101", "011100010001110", "111010010010010",
    "101101101101111", "101101101101010", "101101111111101", "101101010101101", "101101010010010",
    "111001010100111", "111101101101111", "010110010010111", "110001010100111", "110001010001110",
    "101101111001001", "111100110001110", "011100110101010", "111001010010010", "010101010101010",
    "010101011001110", "000000111000000", "000000000000010")))


def check_render_mode(render_mode: str | None) -> str | None:
    """``render_mode`` if it is None or one of :data:`RENDER_MODES`; ValueError naming them otherwise."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise E3GymError(f"render_mode must be one of {list(RENDER_MODES)} or None, got {render_mode!r}")
    return render_mode


@dataclass
class Entry:
    """One request (frame, inference, period) on the timeline."""

    bars: list[tuple[int, float, float]]  # (lane, start_s, end_s)
    tier: int
    lines: list[str]  # what the text mode prints above the bars


class Timeline:
    """The bars of the last ``keep`` requests on named lanes, drawn as an image (:meth:`rgb`) or text."""

    def __init__(self, lanes: Sequence[str], keep: int = 20, max_span_s: float | None = None, width: int = 640,
                 lane_px: int = 16):
        self.lanes, self.max_span_s, self.width, self.lane_px = list(lanes), max_span_s, width, lane_px
        self.entries: deque[Entry] = deque(maxlen=keep)

    def clear(self) -> None:
        """Forget every request (a new episode)."""
        self.entries.clear()

    def add(self, bars: Iterable[tuple[int, float, float]], tier: int, lines: Sequence[str],
            replace_last: bool = False) -> None:
        """Append one request: its bars ``(lane, start_s, end_s)``, its tier and its text lines
        (``replace_last``: they supersede the last request's, one still in progress)."""
        if replace_last and self.entries:
            self.entries.pop()
        self.entries.append(Entry(list(bars), tier, list(lines)))

    def window(self) -> tuple[float, float] | None:
        """(t0, t1) the image spans (see the module docstring); None without bars."""
        bars = [b for e in self.entries for b in e.bars]
        if not bars:
            return None
        t0, t1 = min(b[1] for b in bars), max(b[2] for b in bars)
        return t0, t1 if self.max_span_s is None else min(t1, t0 + self.max_span_s)

    def rgb(self) -> np.ndarray:
        """An ``(n_lanes * lane_px, LABEL_PX + width, 3)`` uint8 image: lane names, then the kept bars."""
        h, w = len(self.lanes) * self.lane_px, self.width
        image = np.empty((h, w, 3), dtype=np.uint8)
        for lane in range(len(self.lanes)):
            image[lane * self.lane_px:(lane + 1) * self.lane_px] = LANE_SHADES[lane % 2]
        span = self.window()
        if span is not None:
            self._draw_bars(image, span)
        return np.concatenate([self._labels(), image], axis=1)

    def _labels(self) -> np.ndarray:
        panel = np.empty((len(self.lanes) * self.lane_px, LABEL_PX, 3), dtype=np.uint8)
        scale = max(1, (self.lane_px - 4) // 5)
        for lane, name in enumerate(self.lanes):
            y = lane * self.lane_px
            panel[y:y + self.lane_px] = LANE_SHADES[lane % 2]
            top = y + (self.lane_px - 5 * scale) // 2
            for k, char in enumerate(name.upper()[:(LABEL_PX - 4) // (4 * scale)]):
                bits = np.array([c == "1" for c in GLYPHS.get(char, "0" * 15)]).reshape(5, 3)
                glyph = np.kron(bits, np.ones((scale, scale), dtype=bool))
                x = 2 + k * 4 * scale
                panel[top:top + 5 * scale, x:x + 3 * scale][glyph] = LABEL_INK
        return panel

    def _draw_bars(self, image: np.ndarray, span: tuple[float, float]) -> None:
        w = self.width
        t0, t1 = span
        dt = (t1 - t0) / w if t1 > t0 else 1.0
        pad = max(1, self.lane_px // 8)
        for entry in self.entries:
            colour, edge = TIER_COLOURS[entry.tier], TIER_EDGES[entry.tier]
            for lane, start, end in entry.bars:
                x0 = int((start - t0) / dt)
                if x0 >= w:
                    continue
                x1 = min(max(x0 + 1, math.ceil((end - t0) / dt)), w)
                y0, y1 = lane * self.lane_px + pad, (lane + 1) * self.lane_px - pad
                image[y0:y1, x0:x1] = colour
                image[y0:y1, x0] = edge

    def text(self) -> str:
        """The last request: its lines, then each bar's lane, start and end (ms on the env's clock)."""
        if not self.entries:
            return "no step yet"
        entry = self.entries[-1]
        width = max(len(name) for name in self.lanes)
        bars = [f"  {self.lanes[lane]:<{width}}  {start * 1e3:10.3f} .. {end * 1e3:10.3f} ms  "
                f"({(end - start) * 1e3:.3f} ms)" for lane, start, end in entry.bars]
        return "\n".join(entry.lines + ["busy intervals:"] + bars)


class TimelineRendering:
    """Env mixin: ``render_mode`` checking, the :class:`Timeline` and ``render()``.

    ``self.timeline`` is None without a render mode, so ``step()`` records nothing then.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": RENDER_FPS}
    render_mode: str | None = None
    timeline: Timeline | None = None

    def _setup_render(self, render_mode: str | None, lanes: Sequence[str], keep: int = 20,
                      max_span_s: float | None = None) -> None:
        self.render_mode = check_render_mode(render_mode)
        self.timeline = Timeline(lanes, keep, max_span_s) if render_mode is not None else None

    def render(self) -> np.ndarray | str | None:
        """``"rgb_array"``: the recent timeline as an (H, W, 3) uint8 image; ``"ansi"``: the last request
        as text; None (with a warning) without a render mode."""
        if self.timeline is None:
            gym.logger.warn("render() called without a render_mode: pass render_mode='rgb_array' or 'ansi' to make()")
            return None
        return self.timeline.rgb() if self.render_mode == "rgb_array" else self.timeline.text()
