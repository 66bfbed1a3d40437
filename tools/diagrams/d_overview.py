"The whole pipeline (index)."
from kit import arrow, box, canvas, legend, text


def pipeline():
    fig, ax = canvas(22, 8.4, "从一句话到一张图：整条流水线（the pipeline）")
    y = 5.4
    cap = box(ax, 1.9, y, 3.2, 1.2, "“一个红色的球体在左上方”", "text", sub="说明 caption（第 1 章）", size=8.5)
    tok = box(ax, 5.6, y, 2.6, 1.2, "一个 / 红色 / 的 / 球体 …", "text", sub="分词 jieba（第 2 章）", size=8.5)
    wv = box(ax, 9.0, y, 2.4, 1.2, "词向量", "text", sub="word vectors（第 3 章）")
    cnn = box(ax, 12.2, y, 2.4, 1.2, "文本 CNN", "text", sub="text CNN（第 4 章）")
    t = box(ax, 15.0, y, 1.6, 1.2, "句向量 t", "text", sub="(B, 64)")
    pri = box(ax, 15.0, 2.6, 2.4, 1.2, "条件先验 p(z|t)", "latent", sub="prior（第 5 章）", size=8.5)
    dec = box(ax, 18.3, 2.6, 2.4, 1.2, "解码器", "image", sub="decoder（第 5、7 章）")
    img = box(ax, 21.0, 2.6, 1.6, 1.2, "图像", "image", sub="32×32 RGB")
    for a, b in ((cap, tok), (tok, wv), (wv, cnn), (cnn, t)): arrow(ax, a["r"], b["l"])
    arrow(ax, t["b"], pri["t"])
    arrow(ax, pri["r"], dec["l"], "z ~ p(z|t)", size=8, offset=(0, 0.32))
    arrow(ax, t["r"], (dec["t"][0], dec["t"][1]), bend=-0.25)
    arrow(ax, dec["r"], img["l"])
    d = box(ax, 18.3, 6.9, 3.0, 1.1, "匹配感知判别器 D(x, t)", "judge", sub="训练时：图和话配不配（第 6、7 章）", size=8.5)
    arrow(ax, img["t"], (d["r"][0] - 0.2, d["b"][1]), dashed=True, bend=0.2)
    arrow(ax, t["t"], d["l"], dashed=True, bend=-0.2)
    j = box(ax, 10.0, 1.2, 5.6, 1.1, "评测：裁判读图、R-precision、回译", "judge", sub="evaluation with judges trained here（第 10 章）", size=8.5)
    arrow(ax, img["b"], j["r"], dashed=True, bend=-0.2)
    text(ax, 5.3, 2.9, "训练（第 8 章）：编码器 q(z|x,t) 看真图，\nVAE-GAN 三个损失一起更新；生成（第 9 章）只走实线。", size=8, ha="center")
    legend(ax, 0.3, 0.35, {"text": "文本", "latent": "隐变量", "image": "图像", "judge": "判别 / 评测"})
    return fig


DIAGRAMS = {"pipeline": pipeline}
