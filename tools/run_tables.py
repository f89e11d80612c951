#!/usr/bin/env python
"""Markdown tables of a finished run, as the README shows them: stages with 95% intervals, paired stage differences
with the evaluation size they call for, pair quality per rung, the ladder judge's confusion, seconds per stage,
robustness against distance, and the run's ablations.

Usage (project root):  .venv/bin/python tools/run_tables.py RUN_DIR [--half-width 0.03]"""
import argparse, os
import numpy as np
from ca_nb.runs import Run
from ca_nb.analysis import run_judge, wording_table
from ca_nb.metrics import compare_stages, instances_needed

NAMES = {'base': 'base', 'ia_sft': 'IA-SFT', 'cat': 'IA-SFT + CAT'}

def ci(s, k): return f"{s[k]:.3f} [{s['ci'][k][0]:.3f}, {s['ci'][k][1]:.3f}]"
def delta(c): return f"{c['delta']:+.3f} [{c['ci'][0]:+.3f}, {c['ci'][1]:+.3f}], p = {c['p']:.2g}"

def comparisons(run: Run) -> dict:
    "The run's paired comparisons, recomputed from its answers (so they carry the per-instance spread)."
    answers = {s: run.responses(s) for s in NAMES if run.responses(s)}
    return compare_stages(answers, run_judge(run), seed=run.config.get('seed', 0))

def tables(path, half_width=0.03) -> str:
    run, out = Run(path), []
    st = run.summary['stages']
    s0 = next(iter(st.values()))
    out += [f"{s0['n_tasks']} tasks, {s0['n_instances']} instances, {s0['n_variants']} wordings each (the original and "
            f"{s0['n_variants'] - 1} evaluation paraphrases), judge `{s0['judge']}`.", "",
            "| stage | CR | MCR | accuracy | accuracy, original | accuracy, paraphrases | spread |", "|---|---|---|---|---|---|---|"]
    for k in NAMES:
        if k in st:
            s = st[k]
            out.append(f"| {NAMES[k]} | {ci(s, 'cr')} | {ci(s, 'mcr')} | {ci(s, 'accuracy')} | {s['accuracy_original']:.3f} | "
                       f"{s['accuracy_paraphrased']:.3f} | {s['spread']:.3f} |")
    comp = comparisons(run)
    out += ["", "| paired difference (same instances, same wordings) | Δ CR | Δ MCR | Δ accuracy |", "|---|---|---|---|"]
    for k, c in comp.items():
        out.append(f"| {k.replace('ia_sft', 'IA-SFT').replace('cat', 'CAT')} | {delta(c['cr'])} | {delta(c['mcr'])} | {delta(c['accuracy'])} |")
    c = comp.get('cat - ia_sft')
    if c:
        hw = (c['cr']['ci'][1] - c['cr']['ci'][0]) / 2
        out += ["", f"Evaluation size: per-instance Δ CR (CAT − IA-SFT) has standard deviation {c['cr']['sd']:.3f} over "
                f"{c['cr']['n']} instances; a ±{half_width} interval needs {instances_needed(c['cr']['sd'], half_width)} "
                f"instances; measured half-width {hw:.3f}."]
    q = run.pair_quality_summary()
    if q:
        p, j = q['pairs'], q['judge']
        out += ["", "| pairs | n | precision (chosen right) | wrong preferred to right | same text both sides |", "|---|---|---|---|---|",
                f"| all | {p['n']} | {p['precision']:.3f} | {p['wrong_over_right']} | {p['identical']} |"]
        out += [f"| {k} rung | {v['n']} | {v['precision']:.3f} | {v['wrong_over_right']} | {v['identical']} |" for k, v in p['by_rung'].items()]
        out += ["", f"The ladder's judge (the IA-SFT model) on the {j['n']} scored answers it judged: agreement with the truth "
                f"{j['accuracy']:.3f}, always answering the majority verdict {j['majority']:.3f}"
                + (" (no better than the majority verdict)" if not j['better_than_majority'] else "") + ". "
                + "; ".join(f"{k}: {v}" for k, v in j['table'].items()) + "."]
    secs = run.summary.get('seconds') or {}
    if secs: out += ["", "Seconds per stage (training and its evaluation): " + ", ".join(f"{NAMES[k]} {secs[k]:.0f}" for k in NAMES if k in secs)
                     + f"; total {sum(secs.values()):.0f} ({sum(secs.values()) / 60:.1f} min)."]
    w = wording_table(run)
    w = w[w.variant != 'orig']
    if len(w):
        bins = [0, 0.45, 0.55, 0.7, 1.01]
        w = w.assign(bin=np.digitize(w.similarity, bins))
        labels = [f"{bins[i - 1]:.2f}–{min(bins[i], 1):.2f}" for i in range(1, len(bins))]
        out += ["", "| stage | corr(similarity, accuracy) | corr(similarity, agreement) | " + " | ".join(f"accuracy / agreement at similarity {l}" for l in labels) + " |",
                "|---|---|---|" + "---|" * len(labels)]
        for s in NAMES:
            g = w[w.stage == s]
            if not len(g): continue
            cells = []
            for i in range(1, len(bins)):
                h = g[g.bin == i]
                cells.append(f"{np.average(h.accuracy, weights=h.n):.2f} / {np.average(h.agreement, weights=h.n):.2f} ({len(h)})" if len(h) else "–")
            out.append(f"| {NAMES[s]} | {np.corrcoef(g.similarity, g.accuracy)[0, 1]:+.2f} | {np.corrcoef(g.similarity, g.agreement)[0, 1]:+.2f} | " + " | ".join(cells) + " |")
        out += ["", "(one point per task × evaluation wording; similarity: highest character similarity to the task's training wordings; "
                "agreement: with the answer under the original wording; in brackets, how many wordings fall in the bin)"]
    if run.ablations():
        out += ["", "| ablation | CAT CR | CAT accuracy | CAT − IA-SFT, Δ CR | Δ accuracy | pairs (precision) |", "|---|---|---|---|---|---|"]
        for d in run.ablations():
            name, a = os.path.basename(d), Run(d)
            if 'cat' not in (a.summary.get('stages') or {}): continue
            ca = comparisons(a)['cat - ia_sft']; pq = (a.summary.get('pair_quality') or {}).get('pairs') or {}
            out.append(f"| {name} | {ci(a.summary['stages']['cat'], 'cr')} | {ci(a.summary['stages']['cat'], 'accuracy')} | {delta(ca['cr'])} | "
                       f"{delta(ca['accuracy'])} | {pq.get('n', '–')} ({pq.get('precision', float('nan')):.2f}) |")
    return "\n".join(out)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('run'); ap.add_argument('--half-width', type=float, default=0.03)
    a = ap.parse_args()
    print(tables(a.run, a.half_width))
