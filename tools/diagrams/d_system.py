"The system around the generator: VAE-GAN's update (07), the trainer's phases (08), the evaluation (10) and the latent explorer (11)."
from kit import COLORS, EDGE, arrow, box, canvas, legend, text

GREY = "#4b5563"
RED = "#b91c1c"


def panel(ax, x, y, w, h, title, lines, role="plain", size=8.5, line_size=7.8, dashed=False, gap=0.42, ha="center"):
    "A box with a title line and a few smaller lines under it (left-aligned when ha='left'); returns box()'s anchors."
    a = box(ax, x, y, w, h, role=role, dashed=dashed)
    top = y + h / 2 - 0.32
    text(ax, x, top, title, size=size)
    lx = x - w / 2 + 0.22 if ha == "left" else x
    for k, s in enumerate(lines):
        text(ax, lx, top - 0.46 - k * gap, s, size=line_size, color="#1f2937", ha=ha)
    return a


def side(a, which, dy=0.0, dx=0.0):
    "An anchor of a box moved by (dx, dy): to start or end several arrows on one side."
    x, y = a[which]
    return (x + dx, y + dy)


# --------------------------------------------------------------------------------------------------- 07 VAE-GAN
def vaegan_flow():
    fig, ax = canvas(22, 14.2, "VAE-GAN 的一步：数据怎么流，哪个损失更新哪组参数（Larsen et al. 2016，加上说明）")
    r1, r2 = 10.1, 6.7                                   # the posterior row and the prior row
    x = box(ax, 1.7, r1, 2.6, 1.2, "真实图像 x", "image", sub="(B, C, H, W)")
    cap = box(ax, 1.7, r2, 2.6, 1.2, "说明 caption", "text", sub="ids (B, T)")
    enc = box(ax, 5.3, r1, 2.8, 1.2, "编码器 q(z|x, t)", "image", sub="encoder → μ, log σ²", size=8.5)
    txt = box(ax, 5.3, r2, 2.8, 1.2, "文本编码器", "text", sub="text CNN → 句向量 t")
    z = box(ax, 8.9, r1, 2.5, 1.2, "z ~ q(z|x, t)", "latent", sub="重参数化 (B, Z)")
    pri = box(ax, 8.9, r2, 2.5, 1.2, "先验 p(z|t)", "latent", sub="prior")
    dec = box(ax, 12.3, (r1 + r2) / 2, 2.3, r1 - r2 + 1.2, role="image")
    text(ax, 12.3, (r1 + r2) / 2 + 0.45, "解码器", size=9)
    text(ax, 12.3, (r1 + r2) / 2 - 0.05, "decoder Dec(z, t)", size=7.5, color=GREY)
    text(ax, 12.3, (r1 + r2) / 2 - 0.5, "= 生成器 generator", size=7.5, color=GREY)
    xr = box(ax, 15.5, r1, 2.3, 1.2, "重建 x̃", "image", sub="reconstruction")
    xp = box(ax, 15.5, r2, 2.3, 1.2, "样本 xₚ", "image", sub="sample from p(z|t)")
    dis = box(ax, 19.6, (r1 + r2) / 2, 3.6, r1 - r2 + 1.2, role="judge")
    dc = (r1 + r2) / 2
    text(ax, 19.6, dc + 1.75, "判别器 D(·, t)", size=9)
    text(ax, 19.6, dc + 1.3, "匹配感知 matching-aware（第 6 章）", size=7, color=GREY)
    for k, s in enumerate(("body：卷积特征", "第 l 级的特征 = Disₗ(·)", "head(特征, t_d) → logit",
                           "t_d：判别器自己的文本编码器", "读说明和错配说明 t_wrong")):
        text(ax, 19.6, dc + 0.6 - k * 0.42, s, size=7.5)
    for a, b in ((x, enc), (enc, z), (cap, txt)): arrow(ax, a["r"], b["l"])
    arrow(ax, txt["r"], pri["l"], "t", size=8, offset=(0, 0.2))
    arrow(ax, txt["t"], enc["b"], "t", size=8, offset=(0.2, 0))
    arrow(ax, z["r"], (dec["l"][0], r1))
    arrow(ax, pri["r"], (dec["l"][0], r2), "zₚ", size=8, offset=(0, 0.22))
    arrow(ax, txt["b"], dec["b"], bend=0.28)
    text(ax, 8.9, 4.95, "t 也进解码器", size=7.5, color=GREY)
    arrow(ax, (dec["r"][0], r1), xr["l"])
    arrow(ax, (dec["r"][0], r2), xp["l"])
    arrow(ax, xr["r"], (dis["l"][0], r1))
    arrow(ax, xp["r"], (dis["l"][0], r2))
    arrow(ax, x["t"], dis["t"], bend=-0.13)
    text(ax, 10.6, 12.35, "真图 x 也进判别器（和说明、错配说明配对）", size=7.5, color=GREY)
    # the loss terms, next to what they compare
    gap = (r1 + r2) / 2
    lp = box(ax, 8.9, gap, 2.9, 0.95, "L_prior = KL(q ‖ p)", "loss", size=8)
    arrow(ax, z["b"], lp["t"]); arrow(ax, pri["t"], lp["b"])
    lpx = box(ax, 15.5, gap, 2.9, 0.95, "L_pixel：x̃ 对 x 的平方误差", "loss", size=7.5)
    arrow(ax, xr["b"], lpx["t"])
    ll = panel(ax, 19.5, 3.9, 4.4, 1.75, "L_llike（在特征上量重建）", ["½‖Disₗ(x) − Disₗ(x̃)‖²", "按特征平均 × feature_scale (1000)"],
               role="loss", size=8, line_size=7.3, gap=0.36)
    lg = panel(ax, 13.6, 3.9, 4.6, 1.75, "L_GAN（不饱和 non-saturating）", ["½[−log D(x̃, t) − log D(xₚ, t)]", "L_aux：辅助分类器读 x̃、xₚ（aux=True）"],
               role="loss", size=8, line_size=7.3, gap=0.36)
    arrow(ax, side(dis, "b", dx=0.4), side(ll, "t", dx=0.4), "Disₗ", size=7.5, offset=(0.35, 0))
    arrow(ax, side(dis, "b", dx=-1.1), side(lg, "t", dx=1.6), "logit", size=7.5, offset=(-0.25, 0.2), label_at=0.45)
    panel(ax, 4.6, 3.9, 7.9, 1.75, "一步 = 三次更新（one step, three updates）",
          ["① 判别器：(x, t) 判真；(x, t_wrong)、(x̃, t)、(xₚ, t) 判假", "② 判别器冻结，用更新后的它量 L_llike 和 L_GAN；同一张图",
           "    backward(inputs=…)：编码器和解码器各取各的梯度"], size=8, line_size=7.2, gap=0.33, ha="left")
    # the three optimisers
    y0, h0 = 1.15, 1.75
    text(ax, 0.3, 1.4, "三个", size=8.5, ha="left"); text(ax, 0.3, 0.95, "优化器", size=8.5, ha="left")
    panel(ax, 5.45, y0, 6.0, h0, "① 判别器 opt_dis（D、它的文本编码器、aux）", ["loss_dis = GAN-CLS：BCE(D(x, t), 1)", "+ ½[BCE(D(x, t_wrong), 0) + BCE(D({x̃, xₚ}, t), 0)]",
          "+ aux_weight·L_aux(真图)；假图 detach()"], role="judge", size=7.8, line_size=7, gap=0.33, ha="left")
    panel(ax, 11.65, y0, 6.0, h0, "② 编码器 opt_enc（编码器、先验、文本编码器）", ["loss_enc = β·L_prior + L_llike + pixel·L_pixel",
          "β = 2, pixel = 1（0 即论文原样）", "文本编码器冻结时（第 8 章）不在其中"], role="image", size=7.8, line_size=7, gap=0.33, ha="left")
    panel(ax, 17.85, y0, 6.0, h0, "② 解码器 opt_dec", ["loss_dec = γ·L_llike + adversarial·L_GAN", "+ pixel·L_pixel + aux_gen_weight·L_aux",
          "γ = 1, adversarial = 2, aux_gen_weight = 20"], role="image", size=7.8, line_size=7, gap=0.33, ha="left")
    legend(ax, 0.3, 13.0, {"text": "文本", "latent": "隐变量", "image": "图像 / 生成器", "judge": "判别器", "loss": "损失"})
    return fig


# --------------------------------------------------------------------------------------------------- 08 training
def _cpu_preset() -> dict:
    "The numbers the timeline shows, read from the trainer's cpu preset (so the drawing follows the code)."
    from t2i_course.train import preset
    c = preset("cpu").to_dict()
    return {**c, "lr_gan": c["gan"]["lr"]}


def training_phases():
    import math
    c = _cpu_preset()
    total = c["text_steps"] + c["cvae_steps"] + c["gan_steps"]
    X0, X1 = 3.7, 20.9
    sx = lambda step: X0 + (X1 - X0) * step / total
    b1, b2 = c["text_steps"], c["text_steps"] + c["cvae_steps"]
    fig, ax = canvas(22, 14.4, f"训练器的三个阶段（cpu 预设，共 {total:,} 步）：训练什么、学习率、检查点、EMA 和时间盒")
    # what each phase trains
    yb, hb = 9.3, 0.9
    phases = (("text", 0, b1, "text", "1"), ("cvae", b1, b2, "latent", "2"), ("gan", b2, total, "judge", "3"))
    for name, a, b, role, k in phases:
        box(ax, (sx(a) + sx(b)) / 2, yb, sx(b) - sx(a), hb, f"{k}. {name}" if name != "text" else "1. text", role, size=8.5, radius=0.08)
    yd = 11.55
    d_text = panel(ax, 2.45, yd, 4.3, 2.2, f"1. text：{c['text_steps']} 步（text_steps）", ["文本 CNN + 属性头 AttributeHead", "读说明点名的槽位（attribute_loss）",
                   f"opt_text，lr_text = {c['lr_text']:g}"], role="text", size=8, line_size=7.2, gap=0.38)
    d_cvae = panel(ax, 8.55, yd, 7.5, 2.2, f"2. cvae：{c['cvae_steps']:,} 步（cvae_steps）", ["条件 VAE：编码器、先验、解码器（第 5 章）",
                   f"重建 + β·KL(q(z|x, t) ‖ p(z|t))，β = {c['beta']:g}；opt_cvae", "文本 CNN 冻结；判别器的文本编码器从它复制一份"], role="latent", size=8, line_size=7.2, gap=0.38)
    d_gan = panel(ax, 16.85, yd, 8.5, 2.2, f"3. gan：{c['gan_steps']:,} 步（gan_steps）", ["VAE-GAN + 辅助分类器：vaegan_update（第 7 章）",
                  "三个优化器 opt_enc、opt_dec、opt_dis；文本 CNN 仍冻结", f"adversarial = {c['adversarial']:g}，aux_gen_weight = {c['aux_gen_weight']:g}"], role="judge", size=8, line_size=7.2, gap=0.38)
    for d, a, b in ((d_text, 0, b1), (d_cvae, b1, b2), (d_gan, b2, total)):
        ax.plot([d["b"][0], (sx(a) + sx(b)) / 2], [d["b"][1], yb + hb / 2], color=GREY, lw=0.8)
    box(ax, 1.75, yb, 2.9, 1.0, role="text", dashed=True, radius=0.08)
    text(ax, 1.75, yb + 0.2, "0. Word2Vec 词向量", size=7.5)
    text(ax, 1.75, yb - 0.22, "建 Trainer 时，不计步数", size=6.5, color=GREY)
    # the step axis
    ya = 8.35
    ax.plot([X0, X1], [ya, ya], color=EDGE, lw=0.9)
    for s_ in (0, b1, b2, total):
        ax.plot([sx(s_)] * 2, [ya - 0.08, yb - hb / 2], color=EDGE, lw=0.8)
        text(ax, sx(s_), ya - 0.3, f"{s_:,}", size=7.3)
    text(ax, 0.3, ya, "步 step", size=7.8, ha="left")
    # checkpoints and samples
    marks = list(range(c["checkpoint_every"], total, c["checkpoint_every"])) + [total]
    yc, ys = 7.3, 6.55
    text(ax, 0.3, yc, "检查点 checkpoint/", size=7.8, ha="left")
    text(ax, 0.3, ys, "样图 samples/", size=7.8, ha="left")
    for m in marks:
        ax.plot([sx(m)], [yc], marker="s", ms=5.5, color="#6b7280", mec=EDGE, mew=0.6)
        ax.plot([sx(m)], [ys], marker="o", ms=5.5, color=COLORS["image"], mec=EDGE, mew=0.6)
        if m != total: text(ax, sx(m), ya - 0.3, f"{m:,}", size=6.3, color=GREY) if m % 1000 == 0 and total - m > 300 else None
    text(ax, (sx(marks[0]) + sx(marks[1])) / 2, yc + 0.33, f"每 {c['checkpoint_every']} 步一个（checkpoint_every），原子写入，只留最新 {c['keep_last']} 个（keep_last）",
         size=7, color=GREY, ha="left")
    text(ax, (sx(marks[0]) + sx(marks[1])) / 2, ys - 0.33, f"每 {c['sample_every']} 步一张样图（sample_every）；每 {c['log_every']} 步一行 logs/train.csv（log_every）",
         size=7, color=GREY, ha="left")
    # learning rates (log scale)
    ylo, yhi, llo, lhi = 3.95, 5.55, math.log10(3e-5), math.log10(4e-3)
    ly = lambda lr: ylo + (yhi - ylo) * (math.log10(lr) - llo) / (lhi - llo)
    text(ax, 0.3, 4.85, "学习率", size=7.8, ha="left"); text(ax, 0.3, 4.45, "（对数刻度）", size=7, ha="left", color=GREY)
    ax.plot([sx(0), sx(b1)], [ly(c["lr_text"])] * 2, color="#1d4ed8", lw=2)
    ax.plot([sx(b1), sx(b2)], [ly(c["lr_cvae"])] * 2, color="#b45309", lw=2)
    xs = [b2 + (total - b2) * k / 40 for k in range(41)]
    lrs = [c["lr_gan"] * (1 - (1 - c["gan_lr_end"]) * (s_ - b2) / c["gan_steps"]) for s_ in xs]
    ax.plot([sx(s_) for s_ in xs], [ly(v) for v in lrs], color="#6d28d9", lw=2)
    text(ax, sx(0), ly(c["lr_text"]) + 0.25, f"lr_text = {c['lr_text']:g}", size=7, color="#1d4ed8", ha="left")
    text(ax, (sx(b1) + sx(b2)) / 2, ly(c["lr_cvae"]) - 0.3, f"lr_cvae = {c['lr_cvae']:g}，恒定（cvae_lr_end = {c['cvae_lr_end']:g}）", size=7, color="#b45309")
    text(ax, sx(b2) + 0.25, ly(c["lr_gan"]) + 0.22, f"lr_gan = {c['lr_gan']:g}", size=7, color="#6d28d9", ha="left")
    text(ax, sx(total), ly(c["lr_gan"] * c["gan_lr_end"]) - 0.3, f"线性降到 gan_lr_end × lr_gan = {c['lr_gan'] * c['gan_lr_end']:g}",
         size=7, color="#6d28d9", ha="right")
    # EMA of the generator
    ye = 2.75
    text(ax, 0.3, ye, "生成器的 EMA", size=7.8, ha="left")
    box(ax, (sx(0) + sx(b1)) / 2, ye, sx(b1) - sx(0), 0.6, "跟随", "image", size=6.8, radius=0.06)
    box(ax, (sx(b1) + sx(total)) / 2, ye, sx(total) - sx(b1), 0.6, role="image", radius=0.06)
    text(ax, sx(b1) + 0.3, ye, f"每步之后 ema ← {c['ema']:g}·ema + {1 - c['ema']:.3f}·权重；存下的生成器用 EMA 的权重", size=7.2, ha="left")
    # the time box
    st = 2700
    ax.plot([sx(st)] * 2, [2.3, yb + hb / 2 + 0.1], color=RED, lw=1.2, ls="--")
    text(ax, sx(st) - 0.12, yb + hb / 2 + 0.3, "例：--minutes 到点", size=7.3, color=RED, ha="right")
    panel(ax, 9.4, 0.95, 10.2, 1.35, "时间盒 --minutes M（Ctrl-C、SIGTERM 同样）", ["在一步的边界上停下 → 存检查点 + model.safetensors（stopped），退出码 3",
          "t2i-course train --out DIR --resume：从最新的好检查点接着训练，和没停过逐位相同"], role="loss", size=7.8, line_size=7, gap=0.36)
    arrow(ax, (sx(st), 2.3), (13.6, 1.64), color=RED)
    panel(ax, 18.45, 0.95, 5.9, 1.35, f"第 {total:,} 步：训练完", ["最后一个检查点和样图；model.safetensors（EMA）、", "vocab.json、config.json、loss.png"],
          role="plain", size=7.8, line_size=7, gap=0.36)
    arrow(ax, (sx(total) + 0.2, ys - 0.15), (sx(total) + 0.2, 1.64))
    legend(ax, 0.3, 13.05, {"text": "文本阶段", "latent": "CVAE 阶段", "judge": "VAE-GAN 阶段", "image": "生成器（EMA）", "loss": "时间盒"})
    return fig


# --------------------------------------------------------------------------------------------------- 10 evaluation
def evaluation_flow():
    fig, ax = canvas(22, 14.0, "评测：说明 → 生成器 → 图像 → 裁判和双编码器 → 指标（第 10 章，evaluate_generator）")
    yr = 8.6
    cap = panel(ax, 2.0, yr, 3.4, 3.3, "说明集 caption sets", ["in_distribution", "heldout_pairs", "paraphrase", "zh · en", "two_objects",
                "每组 500 条，带点名的槽位 slots"], role="text", size=8.5, line_size=7.3, gap=0.4)
    gen = box(ax, 5.75, yr, 2.7, 1.3, "生成器", "image", sub="generate(texts)：一条一张")
    img = box(ax, 9.05, yr, 2.6, 1.3, "生成图像", "image", sub="fit_images → 32×32")
    arrow(ax, cap["r"], gen["l"]); arrow(ax, gen["r"], img["l"])
    jy, jh = 9.0, 4.7
    judge = panel(ax, 12.55, jy, 2.7, jh, "裁判 Judge", ["第 10 节训练：", "在真相已知的", "场景图上学读属性", "每个属性 ≥ 99 %", "不参与生成器", "的训练"],
                  role="judge", size=9, line_size=7.2, gap=0.42)
    arrow(ax, side(img, "r", dy=0.3), side(judge, "l", dy=0.9))
    real = box(ax, 12.55, 5.0, 2.7, 1.2, "真图 real", "image", sub="render(同分布说明的场景)", size=8.5)
    arrow(ax, real["t"], judge["b"], "真图也读", size=7, offset=(0.75, 0))
    rd = box(ax, 15.85, 10.5, 2.9, 1.3, "读数 readings", "plain", sub="每张图五个属性（两物体 + 关系）", size=8.5)
    ft = box(ax, 15.85, 7.15, 2.9, 1.3, "特征 f(x)", "plain", sub="Judge.features，128 维", size=8.5)
    arrow(ax, (judge["r"][0], 10.5), rd["l"]); arrow(ax, (judge["r"][0], 7.15), ft["l"])
    mx, mw, mh = 19.85, 4.1, 1.45
    ma = panel(ax, mx, 12.1, mw, mh, "(a) 按属性的准确率", ["读数和说明点名的槽位比，只数点名的", "再加 all_named；每组说明都算"], role="judge", size=8.3, line_size=6.9, gap=0.36)
    mc = panel(ax, mx, 10.45, mw, mh, "(c) 回译 back-translation", ["读数 → caption_from_slots → 一句说明", "BLEU、精确槽位匹配（对照规范写法）"], role="judge", size=8.3, line_size=6.9, gap=0.36)
    md = panel(ax, mx, 8.8, mw, mh, "多样性 diversity", ["没点名的属性：每条说明画 8 张，", "读数的归一化 entropy（同分布组）"], role="judge", size=8.3, line_size=6.9, gap=0.36)
    mf = panel(ax, mx, 7.15, mw, mh, "FID（裁判特征）fid_judge", ["生成图 vs 真图：各拟合一个高斯，", "Fréchet 距离（同分布组）"], role="judge", size=8.3, line_size=6.9, gap=0.36)
    arrow(ax, side(rd, "r", dy=0.35), side(ma, "l", dy=-0.1))
    arrow(ax, rd["r"], mc["l"])
    arrow(ax, side(rd, "r", dy=-0.35), side(md, "l", dy=0.1))
    arrow(ax, ft["r"], mf["l"])
    # (b) the dual encoder
    yb = 2.9
    dual = box(ax, 12.55, yb, 3.3, 1.5, "(b) 双编码器 DualEncoder", "judge", sub="图像 CNN g + TextCNN h → 单位向量", size=8.5)
    rank = box(ax, 15.85, yb, 2.9, 1.5, "按余弦相似度排序", "plain", sub="真说明 + 99 条矛盾的说明", size=8.5)
    mr = panel(ax, mx, yb, mw, mh, "R-precision", ["真说明排第一的比例", "（瞎猜 1 %；同分布组）"], role="judge", size=8.3, line_size=6.9, gap=0.36)
    arrow(ax, dual["r"], rank["l"]); arrow(ax, rank["r"], mr["l"])
    arrow(ax, img["b"], side(dual, "l", dy=0.35), "图 → g", size=7, offset=(0.45, 0.2), label_at=0.7)
    arrow(ax, cap["b"], side(dual, "l", dy=-0.35), "说明文字 → h", size=7, bend=0.25, dashed=True, offset=(0.2, -0.35), label_at=0.55)
    text(ax, 0.3, 1.35, "evaluate_generator 一次算完，write_report 写出 metrics.json、report.md（t2i-course eval 调 evaluate_run）；", size=7.3, ha="left", color=GREY)
    text(ax, 0.3, 0.9, "判别器准确率用模型自己的判别器（real/right、real/wrong、fake/right），和裁判给的数分开报。", size=7.3, ha="left", color=GREY)
    legend(ax, 0.3, 12.95, {"text": "说明", "image": "图像", "judge": "裁判 / 指标", "plain": "中间结果"})
    return fig


# --------------------------------------------------------------------------------------------------- 11 latent explorer
def explorer_flow():
    fig, ax = canvas(22, 13.6, "隐空间探索器（LatentExplorer）：一句话的先验、主方向上的滑块、两句话之间的插值、裁判实时读图")
    r1, r2, r3 = 9.5, 6.4, 3.2
    c1, c2, c3, c4 = 1.65, 4.65, 8.0, 12.0                 # caption, text CNN, prior / sliders / mix, PCA / z
    capa = box(ax, c1, r1, 2.9, 1.2, "说明 A（文本框）", "text", sub="“一个红色的球体”", size=8.5)
    enc = box(ax, c2, r1, 2.5, 1.2, "文本 CNN", "text", sub="sentence_vectors", size=8.5)
    pri = box(ax, c3, r1, 2.8, 1.2, "先验 p(z|t_A)", "latent", sub="μ_p、σ_p（对角高斯）", size=8.5)
    pca = panel(ax, c4, r1, 4.0, 1.6, "主方向（PCA）", ["先验样本 4096 个 → SVD", "前 k = 4 个方向 v_k、标准差 s_k"], role="latent", size=8.5, line_size=7, gap=0.36)
    arrow(ax, capa["r"], enc["l"]); arrow(ax, enc["r"], pri["l"], "t_A", size=7.5, offset=(0, 0.2))
    arrow(ax, pri["r"], pca["l"])
    sl = box(ax, c3, r2, 2.8, 1.3, "4 个滑块 a_k", "plain", sub="−3 … +3（单位：标准差）", size=8.5)
    z = panel(ax, c4, r2, 4.0, 1.6, "z_i = μ_p + σ_p ⊙ ε_i + Σ a_k s_k v_k", ["固定噪声 ε：8 张，种子固定", "a = 0（复位）即 generate 的样本"],
              role="latent", size=7.8, line_size=7, gap=0.36)
    arrow(ax, sl["r"], z["l"])
    arrow(ax, pca["b"], z["t"], "v_k, s_k", size=7.3, offset=(0.5, 0))
    arrow(ax, side(pri, "b", dx=0.7), side(z, "l", dy=0.55), "μ_p, σ_p", size=7.3, offset=(0.55, 0.15), label_at=0.4)
    # interpolation
    capb = box(ax, c1, r3, 2.9, 1.2, "说明 B", "text", sub="“a blue cube”", size=8.5)
    encb = box(ax, c2, r3, 2.5, 1.2, "文本 CNN", "text", sub="同一个", size=8.5)
    mix = box(ax, c3, r3, 3.2, 1.3, "t_a = (1−a)·t_A + a·t_B", "text", sub="滑块 A → B：a 从 0 到 1", size=7.8)
    zb = panel(ax, c4, r3, 4.0, 1.6, "先验 p(z|t_a)", ["z = μ_p(t_a) + σ_p(t_a) ⊙ ε", "同一个 ε；两端正是 A、B 的样本"], role="latent", size=8.5, line_size=7, gap=0.36)
    arrow(ax, capb["r"], encb["l"]); arrow(ax, encb["r"], mix["l"], "t_B", size=7.5, offset=(0, 0.2))
    arrow(ax, mix["r"], zb["l"])
    arrow(ax, side(enc, "b", dx=0.3), side(mix, "t", dx=-0.7), "t_A", size=7.5, offset=(-0.35, 0), label_at=0.3)
    # decoder, grids, judge
    dc = (r2 + r3) / 2
    dec = box(ax, 15.35, dc, 1.9, r2 - r3 + 1.6, role="image")
    text(ax, 15.35, dc + 0.45, "解码器", size=9)
    text(ax, 15.35, dc, "decoder(z, t)", size=7, color=GREY)
    text(ax, 15.35, dc - 0.45, "上：t = t_A", size=7, color=GREY)
    text(ax, 15.35, dc - 0.85, "下：t = t_a", size=7, color=GREY)
    arrow(ax, z["r"], (dec["l"][0], r2)); arrow(ax, zb["r"], (dec["l"][0], r3))
    ga = box(ax, 17.75, r2, 2.3, 1.3, "图像网格", "image", sub="8 张，grid_png", size=8.5)
    gb = box(ax, 17.75, r3, 2.3, 1.3, "插值网格", "image", sub="8 张，grid_png", size=8.5)
    arrow(ax, (dec["r"][0], r2), ga["l"]); arrow(ax, (dec["r"][0], r3), gb["l"])
    jd = panel(ax, 20.45, dc, 2.7, r2 - r3 + 1.6, "裁判实时读数", ["judge_table：", "每张图 5 个属性", "绿：和点名的相符", "红：不符", "灰：说明没点名", "插值页：a < 0.5",
               "对照 A，否则对照 B"], role="judge", size=8.5, line_size=7, gap=0.4)
    arrow(ax, ga["r"], (jd["l"][0], r2)); arrow(ax, gb["r"], (jd["l"][0], r3))
    arrow(ax, capa["t"], jd["t"], bend=-0.22, dashed=True)
    text(ax, 11.0, 11.45, "named_slots(说明)：说明点名了哪些属性（单物体；两物体时不打分）", size=7.3, color=GREY)
    text(ax, 0.3, 1.4, "换说明（回车）时才重算 t、先验和主方向；拖滑块只跑解码器、裁判和 PNG 编码，所以滑块可以连续更新。", size=7.3, ha="left", color=GREY)
    text(ax, 0.3, 0.95, "应用的第三页“地图”：真实图像的后验均值 μ(x, t) 投到两个主方向上（这里没有画）。", size=7.3, ha="left", color=GREY)
    legend(ax, 0.3, 12.55, {"text": "文本", "latent": "先验 / 隐变量", "image": "图像", "judge": "裁判", "plain": "滑块"})
    return fig

DIAGRAMS = {"vaegan_flow": vaegan_flow, "training_phases": training_phases, "evaluation_flow": evaluation_flow,
            "explorer_flow": explorer_flow}
