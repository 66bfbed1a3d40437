"""Build t2i_course/assets/t2i-cjk.otf: a subset of Noto Sans CJK SC Regular (SIL OFL 1.1).

Development tool, run once: `apt-get install fonts-noto-cjk`, then `python tools/make_font.py`.
The subset holds ASCII, common CJK punctuation, the 3,755 level-1 characters of GB 2312
(the most frequent simplified characters) and every other character the course's own text uses
(notebooks, diagrams, modules, READMEs), so 中文 draws without a system CJK font: in figures, in the
diagrams and in the HTML book. tests/test_book.py checks that nothing the course writes is missing.
"""
from pathlib import Path
from fontTools import subset

SRC = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
DST = Path(__file__).resolve().parents[1] / "t2i_course" / "assets" / "t2i-cjk.otf"

def level1_gb2312():
    chars = []
    for hi in range(0xB0, 0xD8):
        for lo in range(0xA1, 0xFF):
            try: chars.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError: pass
    return chars

ROOT = Path(__file__).resolve().parents[1]

def course_text() -> str:
    "Every character in the course's notebooks, diagrams, modules and READMEs."
    files = [*ROOT.glob("nbs/*.ipynb"), *ROOT.glob("tools/diagrams/*.py"), *ROOT.glob("t2i_course/*.py"),
             ROOT / "README.md", ROOT / "data" / "README.md"]
    return "".join(sorted({ch for f in files if f.exists() for ch in f.read_text(encoding="utf-8") if ord(ch) > 0x2E7F}))

text = course_text() + "".join(chr(c) for c in range(0x20, 0x7F)) + "，。、：；！？（）《》“”‘’…—·「」【】～" + "".join(level1_gb2312())
opts = subset.Options()
opts.font_number = 2          # index of "Noto Sans CJK SC" in the collection
opts.layout_features = ["*"]
opts.name_IDs = ["*"]
opts.name_languages = ["*"]
opts.notdef_outline = True
opts.desubroutinize = False
opts.hinting = False
font = subset.load_font(SRC, opts)
print("subsetting", font["name"].getDebugName(4), "->", DST)
sub = subset.Subsetter(opts)
sub.populate(text=text)
sub.subset(font)
DST.parent.mkdir(parents=True, exist_ok=True)
subset.save_font(font, str(DST), opts)
print(f"{DST.stat().st_size/1e6:.2f} MB, {len(set(text))} characters")
