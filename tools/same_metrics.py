"""Are two run folders' measurements the same? python tools/same_metrics.py RUN_A RUN_B compares every number both
metrics.json files hold (stages, paired comparisons, pair quality), flattened; fields only one of them has (added by
later code) are counted apart. Used to show a refactor changed no result (issue 29: `make demo` before and after)."""
import json, sys, numbers
a, b = (json.load(open(f'{r}/metrics.json')) for r in sys.argv[1:3])
def flat(d, pre=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict): out.update(flat(v, f'{pre}{k}.'))
        elif isinstance(v, numbers.Number) and not isinstance(v, bool): out[pre + k] = v
        elif isinstance(v, list) and all(isinstance(x, numbers.Number) for x in v): out[pre + k] = tuple(v)
    return out
for part in ('stages', 'comparisons', 'pair_quality'):
    fa, fb = flat(a.get(part, {})), flat(b.get(part, {}))
    keys = sorted(set(fa) & set(fb)); diff = [k for k in keys if fa.get(k) != fb.get(k)]
    print(f"{part}: {len(keys)} numbers in both, {len(diff)} differ; {len(set(fa) ^ set(fb))} only in one (fields added since)" + ''.join(f"\n  {k}: {fa.get(k)} vs {fb.get(k)}" for k in diff[:20]))
for s in ('base', 'ia_sft', 'cat'):
    print(s, 'CR', a['stages'][s].get('cr'), b['stages'][s].get('cr'), 'acc', a['stages'][s].get('accuracy'), b['stages'][s].get('accuracy'))
print('seconds', a.get('seconds'), b.get('seconds'))
