"""Write data/example: a dozen rendered images and their captions in the image-folder format (`ImageCaptionFolder`).

    python tools/make_example_data.py      # rewrites data/example the same way every time

Chapter 01 and tests/test_data.py load it; it also shows a reader the folder format to copy for their own data.
"""
import json
from pathlib import Path

from PIL import Image

from t2i_course.data import make_dataset

OUT = Path(__file__).resolve().parent.parent / "data" / "example"


def main(out: Path = OUT):
    one = make_dataset(8, size=64, split="val", lang="both", seed=2024)
    two = make_dataset(4, size=64, split="val", n_objects=2, lang="both", seed=2024)
    (out / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for k, (ds, i) in enumerate([(one, i) for i in range(len(one))] + [(two, i) for i in range(len(two))], start=1):
        name = f"images/{k:04d}.png"
        Image.fromarray(ds.image(i)).save(out / name, optimize=True)
        lines.append(json.dumps({"file": name, "caption": ds.caption(i), "attributes": ds.slots[i]}, ensure_ascii=False))
    (out / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} images and captions.jsonl to {out}")


if __name__ == "__main__": main()
