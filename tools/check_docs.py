"""Checks the docs sources without quarto: notebooks process for docs (nbdev_proc_nbs into _proc/), every notebook
has a title and appears once in nbs/sidebar.yml, the sidebar names no missing file, and nbs/_quarto.yml reads
nbdev.yml and sidebar.yml."""
import glob, os, subprocess, sys, json
import yaml

nbs = sorted(os.path.basename(p) for p in glob.glob('nbs/*.ipynb'))
problems = []
side = yaml.safe_load(open('nbs/sidebar.yml'))
listed = []
def walk(x):
    if isinstance(x, str): listed.append(x)
    elif isinstance(x, list): [walk(i) for i in x]
    elif isinstance(x, dict): [walk(v) for k, v in x.items() if k in ('contents', 'section') and not isinstance(v, str) or k == 'contents']
walk(side['website']['sidebar']['contents'])
for f in listed:
    if not os.path.exists(os.path.join('nbs', f)): problems.append(f"sidebar.yml lists {f}, which does not exist")
for nb in nbs:
    if listed.count(nb) != 1: problems.append(f"{nb} appears {listed.count(nb)} times in sidebar.yml (expected once)")
    cells = json.load(open(os.path.join('nbs', nb)))['cells']
    if not cells or cells[0]['cell_type'] != 'markdown' or not ''.join(cells[0]['source']).lstrip().startswith('# '):
        problems.append(f"{nb}: the first cell is not a markdown title ('# ...')")
q = yaml.safe_load(open('nbs/_quarto.yml'))
if set(q.get('metadata-files', [])) != {'nbdev.yml', 'sidebar.yml'}: problems.append("nbs/_quarto.yml: metadata-files must be nbdev.yml and sidebar.yml")
r = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'nbdev_proc_nbs')], capture_output=True, text=True)
if r.returncode: problems.append(f"nbdev_proc_nbs failed: {r.stderr.strip().splitlines()[-1:]}")
else:
    made = sorted(glob.glob('_proc/*.ipynb'))
    if len(made) < len(nbs): problems.append(f"nbdev_proc_nbs processed {len(made)} of {len(nbs)} notebooks")
if problems:
    print("docs sources: problems found:\n  " + "\n  ".join(problems)); sys.exit(1)
print(f"docs sources OK: {len(nbs)} notebooks processed into _proc/, sidebar and _quarto.yml consistent")
