"""Write README.md from nbs/index.ipynb (the README's source), without quarto: markdown cells as they are, code
cells as fenced Python blocks; cells tagged `#| hide` are left out."""
import json, sys
nb = json.load(open('nbs/index.ipynb'))
parts = []
for c in nb['cells']:
    src = ''.join(c['source']).strip('\n')
    if c['cell_type'] == 'markdown': parts.append(src)
    elif c['cell_type'] == 'code' and src and not src.lstrip().startswith('#| hide'):
        parts.append("```python\n" + '\n'.join(l for l in src.splitlines() if not l.startswith('#|')) + "\n```")
text = "<!-- generated from nbs/index.ipynb by tools/readme.py: edit the notebook -->\n\n" + "\n\n".join(parts) + "\n"
open('README.md', 'w').write(text)
