"""Captions and CLIP from local models only: Hugging Face ``transformers`` in offline mode.

A model is a Hugging Face model folder (``config.json``, the weights, the tokenizer and the image
processor's files) given with ``--model DIR`` or ``$RECON_CLIP_MODEL`` / ``$RECON_CAPTION_MODEL``,
or the default name (:data:`DEFAULT_CLIP`, :data:`DEFAULT_CAPTION`) found in the local Hugging Face
cache. Nothing is downloaded: ``HF_HUB_OFFLINE`` and ``TRANSFORMERS_OFFLINE`` are set before
``transformers`` is imported, and every load passes ``local_files_only``. Without a model: exit 2
and one line naming the option and what to put there.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import UsageError

CLIP_ENV, CAPTION_ENV = "RECON_CLIP_MODEL", "RECON_CAPTION_MODEL"
DEFAULT_CLIP = "openai/clip-vit-base-patch32"
DEFAULT_CAPTION = "Salesforce/blip-image-captioning-base"
PROMPT = "a photo of {}"


def _offline() -> None:
    """No network, and transformers' advice kept off stderr (recon prints one line or none)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        raise UsageError("captions, tags and search need transformers: pip install -e '.[vision]'")
    from transformers.utils import logging

    logging.set_verbosity_error()


def _source(model: Path | None, env: str, default: str, kind: str) -> str:
    """The folder or cached model name to load (a folder must exist)."""
    if model is None and os.environ.get(env):
        model = Path(os.environ[env])
    if model is not None:
        if not model.is_dir():
            raise UsageError(f"{model}: no such model folder; give --model DIR, a Hugging Face {kind} folder (config.json, weights, tokenizer, preprocessor_config.json)")
        return str(model)
    return default


def _check_kind(source: str, kinds: set[str], kind: str, option: str) -> None:
    """A folder whose ``config.json`` names another kind of model is refused before loading."""
    import json

    config = Path(source) / "config.json"
    if not config.is_file():
        return  # a cached name, or a folder _load will call incomplete
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        raise UsageError(f"{config}: not a readable model config; give {option} DIR, a Hugging Face {kind} folder") from None
    if model_type not in kinds:
        raise UsageError(f"{source}: a {model_type or 'unknown'} model, not a {kind} model; give {option} DIR, a Hugging Face {kind} folder")


def _load(loader: Any, source: str, kind: str, option: str) -> Any:
    """``loader.from_pretrained(source)`` offline, with one clear line for every failure."""
    try:
        return loader.from_pretrained(source, local_files_only=True)
    except Exception as exc:  # OSError, ValueError, SafetensorError, UnpicklingError...: the files, not recon
        if isinstance(exc, OSError) and not Path(source).is_dir():
            raise UsageError(
                f"no {kind} model on this machine ({source} is not in the local Hugging Face cache); give {option} DIR, "
                f"a Hugging Face {kind} folder (config.json, weights, tokenizer, preprocessor_config.json)"
            ) from None
        reason = str(exc).strip().splitlines()[0][:150] if str(exc).strip() else type(exc).__name__
        what = "not a complete" if isinstance(exc, OSError) else "not a readable"
        raise UsageError(f"{source}: {what} {kind} model folder ({type(exc).__name__}: {reason}); give {option} DIR") from None


@dataclass
class Clip:
    """A CLIP model, its processor and the name it was loaded from."""

    model: Any
    processor: Any
    name: str

    def image_embeddings(self, images: list[np.ndarray]) -> np.ndarray:
        """(N, D) unit image embeddings of RGB images."""
        import torch

        with torch.no_grad():
            inputs = self.processor(images=list(images), return_tensors="pt")
            out = self.model.get_image_features(pixel_values=inputs["pixel_values"])
        return _unit(out.numpy())

    def text_embeddings(self, texts: list[str]) -> np.ndarray:
        """(N, D) unit text embeddings."""
        import torch

        with torch.no_grad():
            inputs = self.processor(text=list(texts), return_tensors="pt", padding=True, truncation=True)
            out = self.model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"))
        return _unit(out.numpy())

    @property
    def scale(self) -> float:
        """CLIP's learned logit scale (temperature) for zero-shot probabilities."""
        return float(self.model.logit_scale.exp().item())


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


@functools.lru_cache(maxsize=2)
def load_clip(model: Path | None = None) -> Clip:
    """The CLIP model of ``--model``, ``$RECON_CLIP_MODEL`` or the cache (:data:`DEFAULT_CLIP`)."""
    _offline()
    from transformers import AutoProcessor, CLIPModel

    source = _source(model, CLIP_ENV, DEFAULT_CLIP, "CLIP")
    _check_kind(source, {"clip"}, "CLIP", "--model")
    net = _load(CLIPModel, source, "CLIP", "--model")
    processor = _load(AutoProcessor, source, "CLIP", "--model")
    net.eval()
    return Clip(net, processor, Path(source).name if Path(source).is_dir() else source)


@dataclass
class Captioner:
    """An image-to-text model (BLIP or another ``AutoModelForImageTextToText``) and its processor."""

    model: Any
    processor: Any
    name: str

    def caption(self, image: np.ndarray, max_words: int = 30) -> str:
        import torch

        with torch.no_grad():
            inputs = self.processor(images=image, return_tensors="pt")
            ids = self.model.generate(pixel_values=inputs["pixel_values"], max_new_tokens=max_words * 2)
        return str(self.processor.batch_decode(ids, skip_special_tokens=True)[0]).strip()


@functools.lru_cache(maxsize=2)
def load_captioner(model: Path | None = None) -> Captioner:
    """The caption model of ``--model``, ``$RECON_CAPTION_MODEL`` or the cache (:data:`DEFAULT_CAPTION`)."""
    _offline()
    from transformers import AutoModelForImageTextToText, AutoProcessor

    source = _source(model, CAPTION_ENV, DEFAULT_CAPTION, "captioning")
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

    _check_kind(source, set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES), "captioning", "--model")
    net = _load(AutoModelForImageTextToText, source, "captioning", "--model")
    processor = _load(AutoProcessor, source, "captioning", "--model")
    net.eval()
    return Captioner(net, processor, Path(source).name if Path(source).is_dir() else source)


def zero_shot(clip: Clip, images: list[np.ndarray], labels: list[str]) -> np.ndarray:
    """(N, L) probabilities of each label for each image (CLIP zero-shot, "a photo of {label}")."""
    image = clip.image_embeddings(images)
    text = clip.text_embeddings([PROMPT.format(label) for label in labels])
    logits = clip.scale * image @ text.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)
