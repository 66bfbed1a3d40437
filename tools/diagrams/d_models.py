"The models of chapters 05 (VAE, seed model vs conditional VAE) and 06 (the matching-aware discriminator's three pairs)."
from matplotlib.patches import Circle

from kit import COLORS, EDGE, arrow, box, canvas, legend, text

GRAD = "#dc2626"        # gradient paths
MUTED = "#6b7280"       # notes


def node(ax, x, y, label, role, d=1.0, size=11):
    "A round node (a box with fully rounded corners): latent variables, observed data, operations."
    return box(ax, x, y, d, d, label, role, size=size, radius=d / 2 - 0.001)


def path(ax, pts, color=EDGE, dashed=False, **kw):
    "A line through pts[:-1] with an arrow on its last segment: for routing around boxes."
    xs, ys = zip(*pts[:-1])
    ax.plot(xs, ys, color=color, linewidth=1.1, linestyle="--" if dashed else "-", solid_capstyle="butt")
    arrow(ax, pts[-2], pts[-1], color=color, dashed=dashed, **kw)


def rule(ax, a, b):
    "A thin grey separator line."
    ax.plot(*zip(a, b), color="#d1d5db", linewidth=1.0)


# ---------------------------------------------------------------- 05: the VAE as a graphical model + the reparameterisation trick
def vae_graphical_model():
    fig, ax = canvas(23.8, 10.4, "VAE：图模型与重参数化（graphical model & reparameterization trick）")
    # -- left: the graphical model
    text(ax, 3.9, 9.2, "图模型（graphical model）", size=10, weight="bold")
    pri = box(ax, 3.9, 8.1, 3.4, 0.95, r"先验 $p(z)=\mathcal{N}(0, I)$", "latent", sub="prior", size=9)
    z = node(ax, 3.9, 6.1, "$z$", "latent", d=1.1)
    x = node(ax, 3.9, 3.3, "$x$", "image", d=1.1)
    text(ax, 4.65, 6.7, "隐变量 latent", size=7.5, color=MUTED, ha="left")
    text(ax, 4.65, 2.65, "图片（观测到）observed", size=7.5, color=MUTED, ha="left")
    arrow(ax, pri["b"], z["t"])
    arrow(ax, z["b"], x["t"])
    text(ax, 4.2, 4.95, "生成：解码器 decoder", size=8, ha="left")
    text(ax, 4.2, 4.5, r"$p_\theta(x\mid z)$", size=9.5, ha="left")
    arrow(ax, x["l"], z["l"], dashed=True, bend=-0.55)
    text(ax, 1.55, 4.95, "推断：编码器", size=8, ha="right")
    text(ax, 1.55, 4.5, r"$q_\phi(z\mid x)$", size=9.5, ha="right")
    text(ax, 1.55, 4.05, r"近似 $p(z\mid x)$", size=7.5, ha="right", color=MUTED)
    rule(ax, (7.6, 2.0), (7.6, 9.4))

    # -- right: the reparameterisation trick, forward in black, gradients in red
    text(ax, 15.4, 9.2, r"重参数化（reparameterization）：$z=\mu+\sigma\odot\epsilon$", size=10, weight="bold")
    yt, ym, yb = 7.4, 5.4, 3.4                                   # rows: mu, encoder, log sigma^2
    xi = node(ax, 8.7, ym, "$x$", "image", d=1.0)
    enc = box(ax, 10.75, ym, 2.2, 1.3, "编码器 encoder", "image", sub=r"$q_\phi(z\mid x)$", size=8.5)
    mu = box(ax, 13.6, yt, 1.5, 0.95, r"$\mu$", "latent", sub="(B, Z)", size=10)
    lv = box(ax, 13.6, yb, 1.5, 0.95, r"$\log\sigma^2$", "latent", sub="logvar (B, Z)", size=9.5)
    sg = box(ax, 16.1, yb, 2.3, 0.95, r"$\sigma=\exp(\frac{1}{2}\log\sigma^2)$", "latent", size=8.5)
    eps = box(ax, 18.6, 1.7, 2.2, 0.95, r"$\epsilon\sim\mathcal{N}(0, I)$", "latent", sub="噪声 noise", size=9, dashed=True)
    mul = node(ax, 18.6, yb, r"$\odot$", "plain", d=0.65, size=11)
    add = node(ax, 18.6, yt, "$+$", "plain", d=0.65, size=11)
    zr = node(ax, 20.3, yt, "$z$", "latent", d=0.95)
    los = box(ax, 22.55, yt, 2.2, 1.3, "重建误差", "loss", sub=r"经解码器 $p_\theta(x\mid z)$", size=9)
    for a, b in ((xi["r"], enc["l"]), ((enc["r"][0], ym + 0.3), mu["l"]), ((enc["r"][0], ym - 0.3), lv["l"]), (lv["r"], sg["l"]),
                 (sg["r"], mul["l"]), (eps["t"], mul["b"]), (mul["t"], add["b"]), (mu["r"], add["l"]), (add["r"], zr["l"]),
                 (zr["r"], los["l"])):
        arrow(ax, a, b)
    # gradient arrows: offset copies of the forward arrows, pointing back; none goes into epsilon
    g = dict(color=GRAD)
    arrow(ax, (los["l"][0], yt - 0.35), (zr["r"][0] - 0.02, yt - 0.25), **g)
    arrow(ax, (zr["l"][0], yt - 0.28), (add["r"][0], yt - 0.28), **g)
    arrow(ax, (add["l"][0] + 0.05, yt - 0.3), (mu["r"][0], yt - 0.3), **g)
    arrow(ax, (18.95, yt - 0.3), (18.95, yb + 0.3), **g)
    arrow(ax, (mul["l"][0], yb - 0.28), (sg["r"][0], yb - 0.28), **g)
    arrow(ax, (sg["l"][0], yb - 0.28), (lv["r"][0], yb - 0.28), **g)
    arrow(ax, (mu["l"][0], yt - 0.28), (enc["r"][0], ym + 0.55), **g)
    arrow(ax, (lv["l"][0], yb + 0.28), (enc["r"][0], ym - 0.55), **g)
    text(ax, 16.1, yt + 0.4, "梯度 gradient", size=8, color=GRAD)
    text(ax, 16.1, yt - 0.65, r"$\partial z/\partial\mu = 1$", size=8.5, color=GRAD)
    text(ax, 17.65, yb - 0.62, r"$\partial z/\partial\sigma=\epsilon$", size=8.5, color=GRAD)
    text(ax, 10.75, ym - 1.2, r"更新 $\phi$", size=8.5, color=GRAD)
    text(ax, 13.6, 2.0, r"直接“从 $\mathcal{N}(\mu,\sigma^2)$ 采样”没有梯度。随机性挪到 $\epsilon$ 上：" "\n"
         r"$\epsilon$ 不依赖参数，梯度不必穿过采样这一步", size=7.5, color=MUTED)
    text(ax, 22.55, yt - 1.25, "KL 项由 μ、log σ²\n按闭式解直接算出", size=7.5, color=MUTED)

    text(ax, 9.6, 1.0, r"训练：最大化 ELBO $=\mathbb{E}_{q_\phi(z\mid x)}[\log p_\theta(x\mid z)]-\mathrm{KL}(q_\phi(z\mid x)\,\|\,p(z))$，"
         "即最小化 重建误差 + KL", size=8.5)
    legend(ax, 0.3, 0.3, {"image": "图像侧 image", "latent": "隐变量 latent", "loss": "损失 loss"})
    for k, (name, kw) in enumerate((("前向 forward", {}), ("梯度 gradient", g), ("推断 inference", {"dashed": True}))):
        x0 = 13.6 + 3.2 * k
        arrow(ax, (x0, 0.3), (x0 + 1.0, 0.3), **kw); text(ax, x0 + 1.15, 0.3, name, size=7.5, ha="left")
    return fig


# ---------------------------------------------------------------- 05: the seed article's model vs the conditional VAE
def _seed_panel(ax, ox, oy, training):
    "SeedVAE: t -> linear layer -> (mu, logvar) = q(z|t) -> z -> D(z); no image encoder, and the decoder does not see t."
    y = oy + 3.2
    t = box(ax, ox + 1.2, y, 2.1, 1.15, "句向量 $t$", "text", sub="说明 → 文本 CNN", size=9)
    q = box(ax, ox + 4.05, y, 2.7, 1.15, r"线性层 $\rightarrow\ \mu, \log\sigma^2$", "latent", sub=r"$q(z\mid t)$", size=8.5)
    z = node(ax, ox + 6.35, y, "$z$", "latent", d=0.9)
    text(ax, ox + 6.35, y - 0.75, r"$z=\mu+\sigma\odot\epsilon$", size=7.5, color=MUTED)
    dec = box(ax, ox + 8.35, y, 2.3, 1.15, "解码器", "image", sub=r"$D(z)$：不看 $t$", size=9)
    out = box(ax, ox + 10.6, y, 1.3, 1.15, r"$\hat x$" if training else "图像", "image", size=10 if training else 9)
    for a, b in ((t, q), (q, z), (z, dec), (dec, out)): arrow(ax, a["r"], b["l"])
    if training:
        real = box(ax, ox + 1.2, oy + 1.2, 2.1, 0.95, "真图 $x$", "image", sub="只进损失", size=9)
        loss = box(ax, ox + 6.75, oy + 1.2, 7.1, 0.95, r"$\|x-\hat x\|^2+\beta\,\mathrm{KL}(q(z\mid t)\,\|\,\mathcal{N}(0, I))$", "loss", size=9)
        arrow(ax, real["r"], loss["l"])
        arrow(ax, out["b"], (ox + 10.1, loss["t"][1]))
        arrow(ax, q["b"], (q["b"][0], loss["t"][1]), "KL", color=GRAD, size=7.5, offset=(0.35, 0))
        text(ax, ox + 1.2, oy + 2.15, "没有图像编码器", size=7.5, color=GRAD)
    else:
        text(ax, ox + 5.9, oy + 1.45, r"和训练时同一条路：$z$ 仍取自 $q(z\mid t)$，不是 $\mathcal{N}(0, I)$。" "\n"
             r"$z$ 不带任何图的信息，最好的解是条件平均图：" "\n" "模糊，说明没讲的属性（位置……）不会变化", size=8, color="#374151")


def _cvae_panel(ax, ox, oy, training):
    "ConditionalVAE: encoder q(z|x,t) (training only), prior p(z|t), decoder p(x|z,t); t reaches all three."
    ya, yb, yc = oy + 4.6, oy + 2.7, oy + 1.55
    t = box(ax, ox + 1.2, yb, 2.1, 1.15, "句向量 $t$", "text", sub="说明 → 文本 CNN", size=9)
    if training:
        real = box(ax, ox + 1.2, ya, 1.9, 1.0, "真图 $x$", "image", size=9)
        enc = box(ax, ox + 4.1, ya, 2.5, 1.15, "编码器", "image", sub=r"$q_\phi(z\mid x,t)$", size=9)
    else:
        enc = box(ax, ox + 4.1, ya, 2.5, 1.15, "编码器（不用）", "plain", sub="生成时没有图", size=8.5, dashed=True)
    pri = box(ax, ox + 4.1, yb, 2.5, 1.15, "条件先验", "latent", sub=r"$p_\psi(z\mid t)$", size=9)
    z = node(ax, ox + 6.45, ya, "$z$", "latent", d=0.9)
    dec = box(ax, ox + 8.45, ya, 2.3, 1.15, "解码器", "image", sub=r"$p_\theta(x\mid z,t)$", size=9)
    out = box(ax, ox + 10.65, ya, 1.3, 1.15, r"$\hat x$" if training else "图像", "image", size=10 if training else 9)
    arrow(ax, t["r"], pri["l"])
    path(ax, [t["b"], (t["b"][0], yc), (dec["b"][0], yc), dec["b"]])        # t also goes to the decoder
    arrow(ax, z["r"], dec["l"]); arrow(ax, dec["r"], out["l"])
    if training:
        arrow(ax, real["r"], enc["l"])
        arrow(ax, (t["r"][0], yb + 0.35), (enc["l"][0] + 0.25, enc["b"][1]))
        arrow(ax, enc["r"], z["l"])
        text(ax, ox + 6.45, ya - 0.75, r"$z=\mu+\sigma\odot\epsilon$", size=7.5, color=MUTED)
        arrow(ax, enc["b"], pri["t"], style="<|-|>", color=GRAD)
        text(ax, ox + 4.3, (ya + yb) / 2, "KL 拉近", size=7.5, color=GRAD, ha="left")
        loss = box(ax, ox + 6.6, oy + 0.5, 8.6, 0.8, r"$\|x-\hat x\|^2+\beta\,\mathrm{KL}(q_\phi(z\mid x,t)\,\|\,p_\psi(z\mid t))$", "loss", size=9)
        arrow(ax, out["b"], (out["b"][0], loss["t"][1]))
    else:
        arrow(ax, pri["r"], z["b"], r"$z\sim p_\psi(z\mid t)$", size=8, label_at=0.55, offset=(0.95, -0.1))
        text(ax, ox + 6.6, oy + 0.65, "说明写了的（颜色、形状……）由 t 决定；没写的（位置、大小……）由 z 变化", size=8, color="#374151")


def seed_vs_cvae():
    fig, ax = canvas(25.0, 13.3, "种子文章的模型 vs 条件 VAE：训练时和生成时各看到什么")
    text(ax, 7.1, 12.2, "训练时（training）：有真图 x 和它的说明", size=10, weight="bold")
    text(ax, 19.2, 12.2, "生成时（generation）：只有说明", size=10, weight="bold")
    text(ax, 0.55, 9.4, "种子文章的模型 SeedVAE", size=10, weight="bold", rotation=90)
    text(ax, 0.55, 3.9, "条件 VAE ConditionalVAE", size=10, weight="bold", rotation=90)
    rule(ax, (13.15, 1.0), (13.15, 11.9)); rule(ax, (1.2, 7.0), (24.9, 7.0))
    _seed_panel(ax, 1.3, 7.3, True); _seed_panel(ax, 13.4, 7.3, False)
    _cvae_panel(ax, 1.3, 0.95, True); _cvae_panel(ax, 13.4, 0.95, False)
    legend(ax, 1.3, 0.35, {"text": "文本 text", "latent": "隐变量 latent", "image": "图像侧 image", "loss": "损失 loss", "plain": "不用 unused"})
    text(ax, 24.9, 0.35, "文本 CNN 和 VAE 一起端到端训练；本章 β = 2", size=7.5, color=MUTED, ha="right")
    return fig


# ---------------------------------------------------------------- 06: the matching-aware discriminator's three pairs (GAN-CLS)
def _picture(ax, x, y, label, fake=False, d=1.25):
    "A placeholder image: a square with a red ball at the top left (blurred when fake) and a label."
    box(ax, x, y, d, d, role="image", radius=0.06)
    cx, cy = x - d * 0.22, y + d * 0.2
    if fake:
        for r, a in ((0.3, 0.18), (0.24, 0.25), (0.17, 0.35), (0.1, 0.45)):
            ax.add_patch(Circle((cx, cy), r, facecolor="#ef4444", edgecolor="none", alpha=a))
    else: ax.add_patch(Circle((cx, cy), 0.17, facecolor="#ef4444", edgecolor="#b91c1c", linewidth=0.6))
    text(ax, x, y - d * 0.28, label, size=8)


def matching_pairs():
    fig, ax = canvas(23.4, 11.3, "匹配感知判别器（matching-aware discriminator, GAN-CLS）：三种图文对")
    rows = [(7.9, "① 真图 + 对的文字（real/right）：训练集里的一对", False, "“一个红色的球体在左上方”", r"对的文字 $t$（right）",
             "rr", "目标：真（1）", r"$\mathrm{BCE}(s_{rr},\,1)$", r"$=\mathrm{softplus}(-s_{rr})$", r"$\times\,1$"),
            (5.3, "② 真图 + 错的文字（real/wrong）：逼判别器读文字", False,
             "“a blue cube at the bottom right”", r"错的文字 $\hat t$（wrong）", "rw", "目标：假（0）",
             r"$\mathrm{BCE}(s_{rw},\,0)$", r"$=\mathrm{softplus}(s_{rw})$", r"$\times\,\frac{1}{2}$"),
            (2.7, "③ 假图 + 对的文字（fake/right）：本章用模糊图代替生成器的图", True,
             "“一个红色的球体在左上方”", r"对的文字 $t$（right）", "fr", "目标：假（0）",
             r"$\mathrm{BCE}(s_{fr},\,0)$", r"$=\mathrm{softplus}(s_{fr})$", r"$\times\,\frac{1}{2}$")]
    text(ax, 4.2, 9.85, "图文对（pair）", size=9.5, weight="bold")
    text(ax, 10.2, 9.85, "判别器", size=9.5, weight="bold")
    text(ax, 12.9, 9.85, "logit", size=9.5, weight="bold")
    text(ax, 18.2, 9.85, "损失项（loss term）", size=9.5, weight="bold")
    d = box(ax, 10.2, 5.3, 2.3, 6.4, "", "judge")
    text(ax, 10.2, 6.3, "判别器", size=10); text(ax, 10.2, 5.75, r"$D(x, t)$", size=10)
    text(ax, 10.2, 4.95, "同一个网络\n看三种输入", size=7.5, color="#4b5563")
    text(ax, 10.2, 3.95, "输出 logit\n（不取 sigmoid）", size=7.5, color="#4b5563")
    total = box(ax, 22.45, 5.3, 1.5, 2.4, r"$\mathcal{L}_D$", "loss", sub="三项相加", size=11)
    for y, title, fake, cap, sub, k, target, term, term_sub, weight in rows:
        text(ax, 0.6, y + 1.08, title, size=8.5, ha="left")
        box(ax, 4.2, y, 7.4, 1.6, role="plain")
        _picture(ax, 1.45, y, r"假图 $\hat x$" if fake else "真图 $x$", fake)
        text(ax, 2.55, y, "+", size=13)
        c = box(ax, 5.3, y, 4.6, 1.1, cap, "text", sub=sub, size=8.5)
        arrow(ax, (7.9, y), (d["l"][0], y))
        s = box(ax, 12.9, y, 1.2, 0.8, f"$s_{{{k}}}$", "plain", size=10)
        arrow(ax, (d["r"][0], y), s["l"])
        lt = box(ax, 18.2, y, 3.3, 1.1, term, "loss", sub=term_sub, size=9)
        arrow(ax, s["r"], lt["l"], target, size=8, offset=(0, 0.25))
        arrow(ax, lt["r"], (total["l"][0], 5.3 + (y - 5.3) * 0.25), weight, size=9.5, label_at=0.45, offset=(0, 0.3))
    text(ax, 11.7, 1.15, r"$\mathcal{L}_D=\mathrm{softplus}(-s_{rr})+\frac{1}{2}\,[\,\mathrm{softplus}(s_{rw})+\mathrm{softplus}(s_{fr})\,]$"
         r"：每项对批取平均；两个“假”项各乘 $\frac{1}{2}$，真、假两边权重相等", size=8.5)
    legend(ax, 0.3, 0.35, {"image": "图像 image", "text": "文字 text", "judge": "判别器 judge", "loss": "损失 loss"})
    text(ax, 23.2, 0.35, r"生成器用非饱和损失 $\mathcal{L}_G=\mathrm{softplus}(-s_{fr})$（第 7 章）", size=8, color=MUTED, ha="right")
    return fig


DIAGRAMS = {"vae_graphical_model": vae_graphical_model, "seed_vs_cvae": seed_vs_cvae, "matching_pairs": matching_pairs}
