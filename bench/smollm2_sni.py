#!/usr/bin/env python
"""SmolLM2-135M-Instruct on real SNI tasks: consistency under three judges, the model as judge, the model as paraphraser.

Usage (from the project root, after `ca_nb_eval --model smollm2 ... --out EVAL_DIR`, see the README):
    python bench/smollm2_sni.py EVAL_DIR --task-ids a,b,... [--n-judge 4] [--n-para 8] [--out FILE.json]

Reads the evaluation's raw answers (EVAL_DIR/responses.jsonl) and measures them under the exact, chat (extracted
answers) and ROUGE-L judges, per task too; asks the model to judge its own answers, the references and wrong
references on the first `--n-judge` real instances of each task (confusion matrix against the truth); asks it for
`--n-para` paraphrases of each definition and counts what survives the filters. Prints everything, writes JSON.
"""
import argparse, json, os, sys, time
from collections import Counter

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('eval_dir'); ap.add_argument('--task-ids', required=True)
    ap.add_argument('--tasks', default=None, help='SNI task folder (default: ../shared/data/sni/tasks)')
    ap.add_argument('--n-judge', type=int, default=4); ap.add_argument('--n-para', type=int, default=8)
    ap.add_argument('--out', default=None); ap.add_argument('--skip', default='', help='comma-separated parts to skip: judge,para')
    a = ap.parse_args()
    from ca_nb.models import load_model, seed_everything
    from ca_nb.files import read_jsonl
    from ca_nb.tasks import load_sni_tasks, shared_sni_dir
    from ca_nb.metrics import judge_comparison, consistency_metrics
    from ca_nb.judges import judge_for
    tasks_dir = a.tasks or (shared_sni_dir() / 'tasks')
    ids = [t for t in a.task_ids.split(',') if t]
    out = dict(eval_dir=a.eval_dir, task_ids=ids)

    # 1. the evaluation's answers under three judges
    recs = read_jsonl(os.path.join(a.eval_dir, 'responses.jsonl'))
    if not recs: sys.exit(f"{a.eval_dir}/responses.jsonl: no answers (run ca_nb_eval first)")
    jc = judge_comparison(recs)
    print(f"== {len(recs)} answers of {a.eval_dir}, by judge:\n{jc.to_string()}\n")
    m = consistency_metrics(recs, judge_for('chat'))
    per_task = {t: {k: round(v[k], 3) for k in ('cr', 'mcr', 'accuracy', 'accuracy_original', 'accuracy_paraphrased', 'gap', 'spread')}
                for t, v in m['per_task'].items()}
    print("per task (chat judge):")
    for t, v in per_task.items(): print(f"  {t:55} " + ' '.join(f"{k} {x:.3f}" for k, x in v.items()))
    out['by_judge'] = jc.reset_index().to_dict('records'); out['per_task_chat'] = per_task
    out['overall_chat'] = {k: m[k] for k in ('cr', 'mcr', 'accuracy', 'accuracy_original', 'accuracy_paraphrased', 'gap', 'spread')}
    out['ci_chat'] = m['ci']

    seed_everything(0, threads=int(os.environ.get('CA_NB_THREADS', '1')))
    model, tok, _ = load_model('smollm2')
    tasks = load_sni_tasks(tasks_dir, ids)
    skip = set(a.skip.split(','))

    # 2. the model as judge
    if 'judge' not in skip:
        from ca_nb.reward import judge_items, judge_confusion, judge_accuracy
        t0 = time.time()
        items, truth, kinds = judge_items(tasks, model, tok, n_per_task=a.n_judge)
        table, verdicts = judge_confusion(model, tok, items, truth)
        acc = judge_accuracy(verdicts, truth)
        by_kind = {k: dict(Counter(v for v, kk in zip(verdicts, kinds) if kk == k)) for k in dict.fromkeys(kinds)}
        print(f"\n== judge: {len(items)} answers in {time.time() - t0:.0f} s; accuracy {acc:.3f} "
              f"(share truly correct {sum(truth) / len(truth):.3f})\n{table.to_string()}\nverdicts by answer kind: {by_kind}")
        out['judge'] = dict(n=len(items), seconds=round(time.time() - t0), accuracy=acc, share_correct=sum(truth) / len(truth),
                            confusion=table.to_dict(), verdicts_by_kind=by_kind)

    # 3. the model as paraphraser
    if 'para' not in skip:
        from ca_nb.paraphrase import llm_paraphrases, filter_tasks, LLMConfig
        t0 = time.time()
        got = llm_paraphrases(tasks, model, tok, n=a.n_para, cfg=LLMConfig(), seed=0, progress=True)
        kept, dropped = filter_tasks(tasks, got)
        n_got, n_kept = sum(map(len, got.values())), sum(map(len, kept.values()))
        reasons = dict(Counter(d['reason'] for d in dropped))
        print(f"\n== paraphrasing: {n_got} parsed from {len(tasks)} definitions, {n_kept} kept after the filters "
              f"({time.time() - t0:.0f} s); drops: {reasons}")
        for t in tasks[:4]:
            print(f"  {t.id}: kept {kept[t.id][:2]}; dropped {[d['text'][:80] for d in dropped if d['task'] == t.id][:2]}")
        out['paraphrase'] = dict(parsed=n_got, kept=n_kept, drop_reasons=reasons, seconds=round(time.time() - t0),
                                 kept_by_task=kept, dropped=dropped)
    if a.out:
        with open(a.out, 'w') as f: json.dump(out, f, indent=1, default=str)
        print(f"\nwritten: {a.out}")

if __name__ == '__main__': main()
