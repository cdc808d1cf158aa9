"""The camera frame: a scikit-image sample photograph, cropped as the JPEG size model was measured.

``benchmarks/measure_jpeg.py`` fitted e3gym's JPEG size and codec-time model on scikit-image's sample
photos, resized so the shorter side is ``res * 256 / 224`` (bicubic) and centre-cropped to
``res x res``; the validation frame is made the same way, so size differences are the model's error
on one photo, not a different preprocessing. The model input is that frame as a normalized float
tensor (ImageNet mean/std).
"""
from __future__ import annotations

import io

import numpy as np
import torch

from e3gym.errors import DependencyNotInstalled, E3GymError

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
_SCALE = torch.tensor([1.0 / (255.0 * s) for s in STD]).view(3, 1, 1)
_SHIFT = torch.tensor([m / s for m, s in zip(MEAN, STD)]).view(3, 1, 1)
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def camera_frame(resolution: int = 224, photo: str = "astronaut") -> np.ndarray:
    """A ``resolution x resolution`` uint8 RGB frame (H, W, 3) from a scikit-image sample photo."""
    from PIL import Image

    try:
        import skimage.data
    except ImportError:
        raise DependencyNotInstalled("the validation frame comes from scikit-image's sample photos: "
                                     "pip install 'e3gym[validate]'") from None
    if photo not in PHOTOS:
        raise E3GymError(f"unknown photo {photo!r}; expected one of {', '.join(PHOTOS)}")
    img = Image.fromarray(getattr(skimage.data, photo)()).convert("RGB")
    return np.asarray(centre_crop(img, resolution), dtype=np.uint8).copy()


def centre_crop(img, resolution: int):
    """ImageNet's evaluation crop of a PIL image: shorter side to ``res * 256 / 224`` (bicubic), centre ``res x res``."""
    from PIL import Image

    short = round(resolution * 256 / 224)
    w, h = img.size
    scale = short / min(w, h)
    img = img.resize((max(short, round(w * scale)), max(short, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - resolution) // 2, (h - resolution) // 2
    return img.crop((left, top, left + resolution, top + resolution))


def to_tensor(frame: np.ndarray) -> torch.Tensor:
    """(1, 3, H, W) float32 model input from an (H, W, 3) uint8 frame."""
    # the server pays this for every JPEG it decodes: one multiply and one subtract per element
    x = torch.from_numpy(frame).permute(2, 0, 1).to(torch.float32)
    return (x * _SCALE - _SHIFT).unsqueeze(0)


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    """The frame as a JPEG at ``quality`` (Pillow defaults: 4:2:0, standard tables, as the size model)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_jpeg(data: bytes | memoryview) -> np.ndarray:
    """An (H, W, 3) uint8 frame from JPEG bytes (ValueError when they are not a JPEG)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as img:
            return np.array(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as err:
        raise E3GymError(f"not a JPEG frame ({err})") from None
