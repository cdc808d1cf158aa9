"""Measure JPEG frame sizes and encode/decode times on this machine, for e3gym's payload model.

    python benchmarks/measure_jpeg.py [--runs 200] [--out profiles/codecs/jpeg.json]

Sizes: the natural colour photographs that scikit-image ships (astronaut, chelsea, coffee, rocket,
motorcycle left/right: real camera images, not synthetic), each resized so its shorter side is
``res * 256 / 224`` (bicubic) and centre-cropped to ``res x res`` (ImageNet's evaluation transform),
then encoded with Pillow (libjpeg-turbo) at each quality. Per quality a least-squares line
``bytes = header_bytes + bytes_per_pixel * pixels`` is fitted over images x resolutions.

Times: Pillow encode (RGB array -> JPEG bytes) and decode (bytes -> RGB array) of the same crops,
median over ``--runs`` runs each, in one thread (Pillow's codec is single-threaded); a line
``seconds = fixed_s + s_per_pixel * pixels`` per quality. The machine is named in the output.

Needs ``pip install pillow scikit-image`` (neither is an e3gym dependency: the result is data).
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "motorcycle_right")
RESOLUTIONS = (96, 128, 160, 192, 224, 256, 299)
QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 100)
TIMED_RESOLUTIONS = (128, 224, 299)


def crops(res: int):
    """(name, PIL image) centre crops of the shipped photographs at ``res x res``."""
    import skimage.data
    from PIL import Image

    from e3gym.validate.frame import centre_crop

    folder = Path(skimage.data.__file__).parent
    for name in IMAGES:
        path = next(folder.glob(f"{name}.*"))  # the files as shipped (PNG, or JPEG for rocket)
        yield name, centre_crop(Image.open(path).convert("RGB"), res)


def encode(img, quality: int) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def fit_line(x: list[float], y: list[float]) -> tuple[float, float]:
    """Least-squares (intercept, slope)."""
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(intercept), float(slope)


def median_time_s(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main() -> None:
    import PIL
    import skimage
    from PIL import Image, features

    from e3gym.files import write_json_atomic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("profiles/codecs/jpeg.json"))
    args = parser.parse_args()

    sizes = {q: {"pixels": [], "bytes": []} for q in QUALITIES}
    table = {}
    for res in RESOLUTIONS:
        for name, img in crops(res):
            for q in QUALITIES:
                n = len(encode(img, q))
                sizes[q]["pixels"].append(res * res)
                sizes[q]["bytes"].append(n)
                table.setdefault(str(res), {}).setdefault(str(q), []).append(n)
    size_fit = []
    for q in QUALITIES:
        header, bpp = fit_line(sizes[q]["pixels"], sizes[q]["bytes"])
        size_fit.append({"quality": q, "header_bytes": round(header, 1), "bytes_per_pixel": round(bpp, 6)})

    times = {q: {"pixels": [], "encode_s": [], "decode_s": []} for q in (75, 90)}
    for res in TIMED_RESOLUTIONS:
        for name, img in crops(res):
            arr = np.asarray(img)
            for q in times:
                blob = encode(img, q)
                enc = median_time_s(lambda: encode(Image.fromarray(arr), q), args.runs)
                dec = median_time_s(lambda: np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")), args.runs)
                times[q]["pixels"].append(res * res)
                times[q]["encode_s"].append(enc)
                times[q]["decode_s"].append(dec)
    time_fit = []
    for q, t in times.items():
        e0, e1 = fit_line(t["pixels"], t["encode_s"])
        d0, d1 = fit_line(t["pixels"], t["decode_s"])
        time_fit.append({"quality": q, "encode_fixed_s": e0, "encode_s_per_pixel": e1,
                         "decode_fixed_s": d0, "decode_s_per_pixel": d1})

    out = {
        "schema": "e3gym.codec/1",
        "codec": "jpeg",
        "provenance": {
            "method": "measured",
            "command": "python benchmarks/measure_jpeg.py --runs %d" % args.runs,
            "date": time.strftime("%Y-%m-%d"),
            "images": "scikit-image %s sample photographs: %s" % (skimage.__version__, ", ".join(IMAGES)),
            "transform": "resize shorter side to res*256/224 (bicubic), centre crop res x res, RGB, Pillow "
                         "JPEG defaults (4:2:0 subsampling, standard tables)",
            "library": "Pillow %s, libjpeg-turbo %s" % (PIL.__version__, features.version("libjpeg_turbo")),
            "hardware": {"cpu_model": cpu_model(), "machine": platform.machine(), "threads": 1,
                         "python": platform.python_version()},
        },
        "size_fit": size_fit,
        "sizes_bytes": {res: {q: {"min": min(v), "median": statistics.median(v), "max": max(v)}
                              for q, v in per_q.items()} for res, per_q in table.items()},
        "time_fit": time_fit,
    }
    if args.out.exists():  # keep the cited per-platform factors written by hand
        old = json.loads(args.out.read_text())
        if "platforms" in old:
            out["platforms"] = old["platforms"]
    write_json_atomic(args.out, out)
    at224 = table["224"]
    print(f"224x224: q75 {at224['75']} B, q90 {at224['90']} B")
    for t in time_fit:
        px = 224 * 224
        print(f"q{t['quality']}: encode {1e3 * (t['encode_fixed_s'] + t['encode_s_per_pixel'] * px):.3f} ms, "
              f"decode {1e3 * (t['decode_fixed_s'] + t['decode_s_per_pixel'] * px):.3f} ms at 224x224")


if __name__ == "__main__":
    main()
