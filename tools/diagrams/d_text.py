"Text side: skip-gram training pairs with negative sampling (chapter 3) and the text CNN's windows (chapter 4)."
from matplotlib.patches import Rectangle

from kit import COLORS, EDGE, arrow, box, canvas, legend, text

CAPTION = "一个大的红色金属球体在左上方"
TOKENS = ["一个", "大", "的", "红色", "金属", "球体", "在", "左上方"]   # tokenize(CAPTION), jieba as in t2i_course.text


def _outline(ax, x0, y0, x1, y1, color=EDGE, lw=1.0, dashed=False, fill="none"):
    "A plain rectangle from (x0, y0) to (x1, y1)."
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=fill, edgecolor=color, linewidth=lw,
                           linestyle="--" if dashed else "-"))


# ---------------------------------------------------------------- chapter 3: skip-gram with negative sampling

# Shares of the chapter-3 corpus (1,500 + 500 scenes, a zh and an en caption each, `tokenize`d): count(w) / N and
# count(w)^0.75 / Σ count^0.75, as `noise_distribution` computes them (67 words in all).
NOISE = [("a", .0770, .0545), ("一个", .0681, .0497), ("的", .0660, .0485), ("金属", .0251, .0235),
         ("球体", .0202, .0200), ("红色", .0072, .0092), ("左上方", .0047, .0066)]
# K = 5 words drawn from that distribution: torch.multinomial(count**0.75, 5, replacement=True, generator seeded 0)
NEGATIVES = ["右上方", "green", "there", "是", "right"]


def skipgram_pairs():
    fig, ax = canvas(22, 14.2, "跳字模型 + 负采样：一条说明怎样变成训练样本（skip-gram with negative sampling）")

    # --- the tokenised caption, the centre word and its window
    y = 11.7
    cap = box(ax, 2.25, y, 3.7, 1.1, f"“{CAPTION}”", "text", sub="说明 caption", size=8)
    xs = [5.75 + 1.95 * i for i in range(len(TOKENS))]
    ci, window = 3, 2
    text(ax, (xs[0] + xs[-1]) / 2, y + 1.4, "tokenize(…)：jieba 分词得到 8 个词元（token）", size=8, color="#4b5563")
    arrow(ax, cap["r"], (xs[0] - 0.85, y))
    for i, (x, tok) in enumerate(zip(xs, TOKENS)):
        d = i - ci
        role = "text" if abs(d) <= window else "plain"
        box(ax, x, y, 1.7, 0.8, tok, role, size=9.5)
        text(ax, x, y - 0.65, "0" if d == 0 else f"{d:+d}", size=7, color="#6b7280")
    _outline(ax, xs[ci] - 0.9, y - 0.45, xs[ci] + 0.9, y + 0.45, lw=2.2)            # the centre word
    _outline(ax, xs[ci - window] - 1.0, y - 0.95, xs[ci + window] + 1.0, y + 0.62, dashed=True)
    text(ax, xs[ci], y + 0.9, "中心词 c（centre word）", size=8.5)
    text(ax, xs[ci + window] + 1.1, y + 0.9, "窗口 window = 2：左右各 2 个词", size=8, ha="left")

    # --- the positive pairs of this centre word
    text(ax, 0.35, 8.15, "正例（positive pairs）：窗口里的每个上下文词 o（context word）和 c 配成一对", size=8.5, ha="left")
    py, pairs = 9.0, [TOKENS[j] for j in (1, 2, 4, 5)]
    pxs = [1.45 + 2.35 * k for k in range(4)]
    for k, (px, o) in enumerate(zip(pxs, pairs)):
        b = box(ax, px, py, 2.1, 0.75, f"(红色, {o})", "text", size=9)
        if o == "金属": _outline(ax, px - 1.1, py - 0.43, px + 1.1, py + 0.43, lw=2.0)
    for j in (1, 2, 4, 5):                                                            # window words -> the pairs row
        arrow(ax, (xs[j], y - 0.85), (pxs[[1, 2, 4, 5].index(j)] + 0.3, py + 0.42), color="#9ca3af")
    text(ax, 0.35, 7.65, "每个词轮流当中心词，只在同一条说明里配对：本章的语料一共约 12 万对 (c, o)。", size=7.5, ha="left", color="#4b5563")

    # --- the noise distribution and K negatives for the pair (红色, 金属)
    gx, gy, bw = 11.6, 5.05, 0.28                                                      # bar chart origin
    text(ax, gx - 0.25, 9.1, r"噪声分布（noise distribution）$P_n(w) \propto \mathrm{count}(w)^{3/4}$", size=8.5, ha="left")
    scale = 2.6 / 0.08
    for k, (w, f, p) in enumerate(NOISE):
        x = gx + 0.5 + k * 1.05
        _outline(ax, x - bw, gy, x, gy + f * scale, fill=COLORS["plain"], lw=0.7)
        _outline(ax, x, gy, x + bw, gy + p * scale, fill=COLORS["latent"], lw=0.7)
        text(ax, x, gy - 0.3, w, size=7.5)
    ax.plot([gx + 0.05, gx + 7.55], [gy, gy], color=EDGE, lw=0.8)
    box(ax, gx + 4.75, 8.45, 0.35, 0.22, role="plain", radius=0.03); text(ax, gx + 5.0, 8.45, "词频 count / N", size=7, ha="left")
    box(ax, gx + 4.75, 8.05, 0.35, 0.22, role="latent", radius=0.03); text(ax, gx + 5.0, 8.05, r"$P_n$（3/4 次方后）", size=7, ha="left")
    text(ax, gx + 7.7, 6.45, "高频词（a、一个、的）\n被压低，低频词被抬高", size=7, ha="left", color="#4b5563")

    ny = 3.55
    text(ax, gx - 0.25, 4.3, r"为每一对抽 $K = 5$ 个负例（negative samples）$n_1 \ldots n_5 \sim P_n$，例如给 (红色, 金属)：", size=8, ha="left")
    nxs = [gx + 0.55 + 1.75 * k for k in range(5)]
    for x, w in zip(nxs, NEGATIVES): box(ax, x, ny, 1.5, 0.7, w, "plain", size=9)
    text(ax, gx - 0.25, 2.85, "（一次抽样；词表里任何词都可能被抽到，两种语言都有）", size=7, ha="left", color="#4b5563")

    # --- the two vectors per word and the logistic loss of one pair
    text(ax, 0.35, 6.85, "每个词两个向量（都是 V × E 的表，Adam 一起更新）：", size=8.5, ha="left")
    box(ax, 2.6, 5.9, 4.5, 1.0, r"词向量 $\mathbf{v}_w$（word vector）", "text", sub="作中心词时用；从随机值开始，训练后留下", size=8.5)
    box(ax, 7.5, 5.9, 4.5, 1.0, r"上下文向量 $\mathbf{u}_w$（context vector）", "text", sub="作上下文或负例时用；从零开始，只在训练时用", size=8.5)

    # a sigmoid sketch: the pair's score pushed right (σ -> 1), the negatives' pushed left (σ -> 0)
    import numpy as np
    ox, oy, sx, sy = 5.2, 1.2, 0.42, 2.5                                               # origin and scale of the sketch
    s = np.linspace(-5.5, 5.5, 100)
    text(ax, 0.35, 4.55, r"正例和每个负例各是一个二分类，用 logistic 损失（logistic loss），$\sigma$ 是 sigmoid：", size=8.5, ha="left")
    ax.plot([ox - 5.7 * sx, ox + 5.7 * sx], [oy, oy], color="#9ca3af", lw=0.8)
    ax.plot([ox, ox], [oy, oy + sy + 0.2], color="#9ca3af", lw=0.8)
    ax.plot(ox + s * sx, oy + sy / (1 + np.exp(-s)), color=EDGE, lw=1.3)
    text(ax, ox + 5.8 * sx, oy - 0.02, r"$\mathbf{u}^{\top}\mathbf{v}_c$", size=8, ha="left")
    text(ax, ox + 0.1, oy + sy + 0.25, r"$\sigma(\mathbf{u}^{\top}\mathbf{v}_c)$", size=8, ha="left")
    sig = lambda z: oy + sy / (1 + np.exp(-z))
    ax.plot([ox + 0.4 * sx], [sig(0.4)], "o", ms=6, color="#2563eb")
    arrow(ax, (ox + 0.6 * sx, sig(0.6)), (ox + 3.2 * sx, sig(3.2)), color="#2563eb", bend=0.15)
    text(ax, ox + 3.4 * sx, sig(3.2) - 0.45, "正例 (红色, 金属)：\n推高 → 1", size=7.5, ha="left", color="#2563eb")
    ax.plot([ox - 0.3 * sx], [sig(-0.3)], "o", ms=6, color="#dc2626")
    arrow(ax, (ox - 0.5 * sx, sig(-0.5)), (ox - 3.1 * sx, sig(-3.1)), color="#dc2626", bend=0.15)
    text(ax, ox - 3.3 * sx, sig(-3.1) + 0.55, "5 个负例：\n压低 → 0", size=7.5, ha="right", color="#dc2626")

    box(ax, 15.6, 1.3, 11.6, 1.75, role="loss")
    text(ax, 15.6, 1.62, r"$\mathcal{L}(c, o) = -\log\sigma(\mathbf{u}_o^{\top}\mathbf{v}_c) - \sum_{k=1}^{K}\log\sigma(-\mathbf{u}_{n_k}^{\top}\mathbf{v}_c)$", size=10)
    text(ax, 15.6, 0.72, r"损失（loss）：1 个正例 + K 个负例，各是一个二分类，代替整个词表上的 softmax；梯度更新 $\mathbf{v}_c$、$\mathbf{u}_o$ 和 $\mathbf{u}_{n_k}$",
         size=7.5, color="#4b5563")
    legend(ax, 0.3, 0.25, {"text": "文本", "latent": "分布", "loss": "损失"})
    return fig


# ---------------------------------------------------------------- chapter 4: the text CNN's windows

# ReLU(conv) scores on CAPTION of one filter per width, from a CaptionAttributeModel trained as in the chapter
# (make_dataset(3000, size=16, seed=0), TextCNNConfig defaults, 300 steps, seed 0); each is one of the filters the projection
# weighs most (the chapter's `top_ngrams` table picks them the same way). That model reads all five slots of CAPTION right.
SCORES = {1: [0, 0, 0, 0, 0, 0, 0, 4.35], 2: [0, 0, 0, 2.54, 0, 0, 2.2], 3: [0, 0.33, 0, 0, 0, 3.08], 4: [0.55, 1.45, 5.25, 0, 0]}
SLOTS = [("颜色 color", 9, "red", 2), ("形状 shape", 4, "sphere", 2), ("大小 size", 3, "large", 1),
         ("材质 material", 3, "metal", 2), ("位置 position", 10, "top left", 1)]   # SLOT_CLASSES sizes; this caption's targets


def _heat(v, top=5.3):
    "White to blue as a score grows."
    a = min(v / top, 1.0)
    lo, hi = (1.0, 1.0, 1.0), (0.145, 0.388, 0.922)
    return tuple(l + (h - l) * a for l, h in zip(lo, hi))


def textcnn_windows():
    fig, ax = canvas(22, 13.6, "文本卷积网络：卷积核在词上滑动，每个只留最强的一次，拼成句向量 t（text CNN）")
    T, rh = len(TOKENS), 0.72
    ry = [10.0 - rh * i for i in range(T)]                                            # row centres, token i

    # --- the word vectors: one row per token
    text(ax, 2.9, 11.75, r"词向量 $x_1 \ldots x_T$（word vectors）", size=8.5)
    text(ax, 2.9, 11.3, "(B, T, E)：这里 T = 8，E = 32", size=7.5, color="#4b5563")
    for i, (tok, y) in enumerate(zip(TOKENS, ry)):
        text(ax, 1.75, y, tok, size=9, ha="right")
        _outline(ax, 1.95, y - 0.27, 4.35, y + 0.27, fill=COLORS["text"], lw=0.5)           # E numbers (8 drawn)
    ax.vlines([1.95 + 0.3 * k for k in range(1, 8) for _ in ry], [y - 0.27 for _ in range(1, 8) for y in ry],
              [y + 0.27 for _ in range(1, 8) for y in ry], color=EDGE, lw=0.5)
    text(ax, 2.6, ry[-1] - 1.0, "nn.Embedding 查表；\n转置成 (B, E, T) 交给 Conv1d", size=7.5, color="#4b5563")

    # --- one feature map per width (one filter each), aligned with the word its window starts at
    cx, cw = [6.2, 7.9, 9.6, 11.3], 0.9
    text(ax, (cx[0] + cx[-1]) / 2, 12.05, "卷积 Conv1d + ReLU：每个卷积核在每个位置给一个分数（feature map）", size=8.5)
    text(ax, (cx[0] + cx[-1]) / 2, 11.62, r"位置 i 的分数看 $x_i \ldots x_{i+w-1}$；竖线标出最强那一格看的词", size=7.5, color="#4b5563")
    for x, (w, vals) in zip(cx, SCORES.items()):
        text(ax, x, 11.1, f"宽度 w = {w}", size=8)
        text(ax, x, 10.75, f"T−w+1 = {len(vals)} 格", size=7, color="#4b5563")
        best = max(range(len(vals)), key=vals.__getitem__)
        for i, v in enumerate(vals):
            y = ry[i]
            _outline(ax, x - cw / 2, y - 0.3, x + cw / 2, y + 0.3, fill=_heat(v), lw=0.6)
            text(ax, x, y, "0" if v == 0 else f"{v:.1f}", size=7, color="white" if v > 3 else "#111827")
        _outline(ax, x - cw / 2, ry[best] - 0.3, x + cw / 2, ry[best] + 0.3, lw=2.0)
        top, bot = ry[best] + 0.3, ry[best + w - 1] - 0.3
        ax.plot([x - cw / 2 - 0.15] * 2, [bot, top], color=EDGE, lw=2.0)
    text(ax, (cx[0] + cx[-1]) / 2, 4.0, "(B, C, T−w+1)：每种宽度 C = 64 个卷积核，这里每种只画 1 个（分数取自一个训练好的模型）", size=7.5, color="#4b5563")

    # --- max over time: one number per filter
    py = 2.65
    text(ax, cx[0] - 0.75, py + 0.05, "最大值池化\n(max-over-time\npooling)", size=7.5, ha="right")
    for x, (w, vals) in zip(cx, SCORES.items()):
        best = max(range(len(vals)), key=vals.__getitem__)
        arrow(ax, (x, 3.65), (x, py + 0.35), label="max", size=7, offset=(0.33, 0))
        _outline(ax, x - cw / 2, py - 0.3, x + cw / 2, py + 0.3, fill=_heat(vals[best]), lw=2.0)
        text(ax, x, py, f"{vals[best]:.1f}", size=7.5, color="white" if vals[best] > 3 else "#111827")
        gram = TOKENS[best:best + w]
        text(ax, x, py - 0.75, " ".join(gram[:2]) + ("\n" + " ".join(gram[2:]) if len(gram) > 2 else ""), size=7, color="#4b5563")
    _outline(ax, cx[0] - cw / 2 - 0.2, py - 0.48, cx[-1] + cw / 2 + 0.2, py + 0.48, dashed=True)
    text(ax, (cx[0] + cx[-1]) / 2, py - 1.55, "每种宽度得到 (B, C)：只问这个 n 元组出现过没有，不管在哪里", size=7.5, color="#4b5563")

    # --- concatenation, projection, sentence vector, the attribute heads
    z = box(ax, 14.3, py, 2.5, 1.0, "拼接 z（concat）", "text", sub="(B, C·|K|) = (B, 256)", size=8.5)
    arrow(ax, (cx[-1] + cw / 2 + 0.2, py), z["l"])
    t = box(ax, 14.3, 5.15, 1.9, 1.0, "句向量 t", "text", sub="(B, 64)", size=9)
    arrow(ax, z["t"], t["b"], "Dropout + 线性投影", size=7, offset=(1.25, 0))
    h = box(ax, 14.3, 7.6, 3.0, 1.0, "AttributeHead：一个线性层", "plain", sub="(B, 64) → (B, 29)，按槽切成 5 份", size=8)
    arrow(ax, t["t"], h["b"])
    sy = [9.64 - 1.01 * k for k in range(5)]
    for k, ((name, n, value, cls), y) in enumerate(zip(SLOTS, sy)):
        b = box(ax, 19.9, y, 3.3, 0.82, f"{name}（{n} 类）", "plain", sub=f"目标：{value}（类别 {cls}）", size=8)
        arrow(ax, (h["r"][0], h["r"][1] + 0.3 - 0.15 * k), b["l"], color="#9ca3af")
    text(ax, 19.9, sy[-1] - 0.72, "类别 0 = 没提到（<none>）", size=7.5, color="#4b5563")
    loss = box(ax, 19.9, 11.45, 3.9, 1.45, role="loss")
    text(ax, 19.9, 11.8, r"$\mathcal{L} = \frac{1}{5}\sum_{s}-\log p_\theta(y_s \mid t)$", size=9.5)
    text(ax, 19.9, 11.0, "损失：五个槽的 cross-entropy 取平均；\n梯度更新头、投影层、卷积核和词向量", size=7, color="#4b5563")
    arrow(ax, (19.9, sy[0] + 0.41), loss["b"], color="#9ca3af")
    legend(ax, 0.3, 0.3, {"text": "文本编码器"}); legend(ax, 2.6, 0.3, {"plain": "读属性的头"}); legend(ax, 4.9, 0.3, {"loss": "损失"})
    return fig


DIAGRAMS = {"skipgram_pairs": skipgram_pairs, "textcnn_windows": textcnn_windows}
