"""Build the whole course as a static HTML site in _docs/, from the stored (executed) notebooks, with no network.

    python tools/build_book.py            # writes _docs/index.html and one page per chapter (about a minute)

Each page: the chapter as nbconvert's lab template renders it (code highlighted, outputs and figures as stored),
a navigation bar (contents, previous, next), math typeset by a MathJax 2.7 copied into the site (from the nbclassic
package, a dev dependency), require.js and jQuery from the same place, and the package's CJK font for 中文 text.
Nothing on a page refers outside the site: links to notebooks become links to pages, images are copied.
`#| hide` cells are left out and `#| ...` directive lines are dropped from the code shown, as on the README.
"""
import argparse, html, re, shutil, sys, time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parent.parent
NBS, OUT = ROOT / "nbs", ROOT / "_docs"
sys.path.insert(0, str(ROOT / "tools"))
from make_readme import prepare  # noqa: E402  (drops #| hide cells, strips directive lines)

MATHJAX = "static/mathjax/MathJax.js"
# MathJax 2.7 from nbclassic, configured here rather than by a combined config file: TeX in, HTML-CSS out with the
# STIX-Web web fonts (the only ones that copy has, as the classic notebook uses it); the combined configs would also
# bring MathJax's MathML output, which Chromium now takes and which wants the TeX fonts. The template's own config block
# comes after MathJax.js and can be read too late, so the delimiters are set here too.
MATHJAX_FONTS = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({jax: ["input/TeX", "output/HTML-CSS"], extensions: ["tex2jax.js", "Safe.js"],
                   TeX: {extensions: ["AMSmath.js", "AMSsymbols.js", "noErrors.js", "noUndefined.js"]},
                   tex2jax: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]],
                             processEscapes: true, processEnvironments: true},
                   "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null,
                                undefinedFamily: "'T2I CJK', STIXGeneral, serif"}});
</script>"""
PRELOAD = '<link rel="preload" href="static/t2i-cjk.otf" as="font" type="font/otf" crossorigin>\n'
CSS = """
@font-face { font-family: "T2I CJK"; src: url("static/t2i-cjk.otf") format("opentype"); font-display: block; }
body, h1, h2, h3, h4, h5, h6, .jp-RenderedHTMLCommon, .jp-RenderedHTMLCommon :is(h1, h2, h3, h4, h5, h6, p, li, td, th, a, strong, em) {
    font-family: "T2I CJK", system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.jp-RenderedHTMLCommon img { max-width: 100%; }
nav.t2i { font: 15px/1.5 "T2I CJK", system-ui, sans-serif; max-width: 1100px; margin: 0 auto; padding: 10px 20px;
          display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; border-bottom: 1px solid #ddd; }
nav.t2i.bottom { border-top: 1px solid #ddd; border-bottom: none; margin-top: 30px; }
nav.t2i a { text-decoration: none; color: #1d4ed8; }
nav.t2i .title { font-weight: 600; margin-right: auto; }
nav.t2i details { width: 100%; }
nav.t2i ol { columns: 2; margin: 6px 0; }
"""


def pages() -> list[Path]:
    "The book's pages in reading order: index, then the chapters and appendices by name."
    nbs = sorted(p for p in NBS.glob("*.ipynb") if p.stem != "index")
    return [NBS / "index.ipynb", *nbs]


def title(nb) -> str:
    for c in nb.cells:
        if c.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", c.source, re.M)
            if m: return re.sub(r"[`*]", "", m.group(1)).strip()
    return ""


def fix_links(source: str) -> str:
    "Markdown links as a page of the site needs them: chapters are .html, ../docs/ is copied to docs/."
    source = re.sub(r"\]\((?!https?:)([\w.-]+)\.ipynb(#[^)]*)?\)", lambda m: f"]({m.group(1)}.html{m.group(2) or ''})", source)
    return source.replace("](../docs/", "](docs/")


def nav(i: int, names: list[str], titles: list[str], where: str) -> str:
    prev = f'<a href="{names[i - 1]}.html">← {html.escape(titles[i - 1])}</a>' if i > 0 else ""
    nxt = f'<a href="{names[i + 1]}.html">{html.escape(titles[i + 1])} →</a>' if i + 1 < len(names) else ""
    toc = "".join(f'<li><a href="{n}.html">{html.escape(t)}</a></li>' for n, t in zip(names, titles))
    return (f'<nav class="t2i {where}"><span class="title"><a href="index.html">t2i-course</a> · {html.escape(titles[i])}</span>'
            f'{prev}{nxt}<details><summary>目录 Contents</summary><ol>{toc}</ol></details></nav>')


def copy_static():
    import nbclassic
    comp = Path(nbclassic.__file__).parent / "static" / "components"
    static = OUT / "static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copytree(comp / "MathJax", static / "mathjax", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.md", "docs", "test", "unpacked", "eot", "otf", "svg", "png"))
    shutil.copy(comp / "requirejs" / "require.js", static / "require.js")
    shutil.copy(comp / "jquery" / "dist" / "jquery.min.js", static / "jquery.min.js")
    shutil.copy(ROOT / "t2i_course" / "assets" / "t2i-cjk.otf", static / "t2i-cjk.otf")
    shutil.copy(ROOT / "t2i_course" / "assets" / "OFL.txt", static / "OFL.txt")
    if (NBS / "images").is_dir(): shutil.copytree(NBS / "images", OUT / "images", dirs_exist_ok=True)
    if (ROOT / "docs").is_dir(): shutil.copytree(ROOT / "docs", OUT / "docs", dirs_exist_ok=True)


def build() -> list[Path]:
    OUT.mkdir(exist_ok=True)
    copy_static()
    exporter = HTMLExporter(template_name="lab", mathjax_url=MATHJAX, require_js_url="static/require.js",
                            jquery_url="static/jquery.min.js", exclude_anchor_links=False)
    paths = pages()
    nbs = [prepare(nbformat.read(p, as_version=4)) for p in paths]
    names = [p.stem for p in paths]
    titles = [title(nb) or n for nb, n in zip(nbs, names)]
    written = []
    for i, (nb, name) in enumerate(zip(nbs, names)):
        for c in nb.cells:
            if c.cell_type == "markdown": c.source = fix_links(c.source)
            elif "t2i_run" in c.metadata: c.execution_count = c.metadata["t2i_run"]   # "In [n]": the order tools/run_notebooks.py ran it in
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": titles[i]}})
        body = body.replace("<head>", "<head>\n" + PRELOAD + MATHJAX_FONTS, 1).replace("</head>", f"<style>{CSS}</style>\n</head>", 1)
        body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav(i, names, titles, "top"), body, count=1)
        body = body.replace("</body>", nav(i, names, titles, "bottom") + "</body>", 1)
        out = OUT / f"{name}.html"
        out.write_text(body, encoding="utf-8")
        written.append(out)
    outside = sorted({u for p in written for u in re.findall(r'(?:src|href)="(https?://[^"]+)"', p.read_text(encoding="utf-8"))
                      if not u.startswith(("http://127.0.0.1", "http://localhost"))})
    return written, outside


def main():
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    t0 = time.time()
    written, outside = build()
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {len(written)} pages to {OUT.relative_to(ROOT)}/ ({size / 1e6:.1f} MB with MathJax, the font and the images) in {time.time() - t0:.0f} s")
    if outside: print(f"links that leave the site (fine for reading online, not loaded by the pages): {len(outside)}")


if __name__ == "__main__": main()
