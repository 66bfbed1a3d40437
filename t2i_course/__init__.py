"""Learn text-to-image generation chapter by chapter on a CLEVR-like world the library renders itself.

This file is written by hand (nbdev only keeps the `__version__` line below in step
with settings.ini). The main names are re-exported lazily: `import t2i_course` is
fast and does not import torch, jieba, gensim or ipywidgets; `t2i_course.render` (or
`from t2i_course import render`) imports `t2i_course.data` on first use.
"""

__version__ = "0.1.0"

from importlib import import_module
from typing import TYPE_CHECKING

# Public name -> submodule that defines it.
_LAZY = {
    **dict.fromkeys(["set_seed", "get_device", "show_images", "trace_shapes"], "core"),
    **dict.fromkeys(["COLORS", "SHAPES", "SIZES", "MATERIALS", "ZH", "SceneObject", "Scene",
                     "sample_scenes", "render", "caption", "make_dataset", "load_dataset",
                     "save_dataset", "load_clevr", "load_coco_captions", "ImageCaptionFolder"], "data"),
    **dict.fromkeys(["tokenize", "Vocab"], "text"),
    **dict.fromkeys(["WordVectors", "train_word2vec", "embedding_matrix"], "embeddings"),
    **dict.fromkeys(["TextCNN", "TextCNNConfig"], "text_cnn"),
    **dict.fromkeys(["VAEConfig", "SeedVAE", "ConditionalVAE"], "vae"),
    **dict.fromkeys(["Discriminator", "DiscriminatorConfig"], "discriminator"),
    **dict.fromkeys(["VAEGAN", "VAEGANConfig"], "vaegan"),
    **dict.fromkeys(["TextToImage", "save_run"], "pipeline"),
    **dict.fromkeys(["Judge", "load_or_train_judge", "evaluate_generator", "evaluate_run"], "evaluate"),
    **dict.fromkeys(["LatentExplorer"], "widgets"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    "Import the submodule that defines `name` on first access (PEP 562)."
    mod = _LAZY.get(name)
    if mod is None: raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{mod}", __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__(): return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # static tools and IDEs see the real names; nothing is imported at run time
    from .core import set_seed, get_device, show_images, trace_shapes
    from .data import (COLORS, SHAPES, SIZES, MATERIALS, ZH, SceneObject, Scene, sample_scenes, render,
                       caption, make_dataset, load_dataset, save_dataset, load_clevr, load_coco_captions,
                       ImageCaptionFolder)
    from .text import tokenize, Vocab
    from .embeddings import WordVectors, train_word2vec, embedding_matrix
    from .text_cnn import TextCNN, TextCNNConfig
    from .vae import VAEConfig, SeedVAE, ConditionalVAE
    from .discriminator import Discriminator, DiscriminatorConfig
    from .vaegan import VAEGAN, VAEGANConfig
    from .pipeline import TextToImage, save_run
    from .evaluate import Judge, load_or_train_judge, evaluate_generator, evaluate_run
    from .widgets import LatentExplorer
