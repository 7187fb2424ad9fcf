"""Render `nbs/index.ipynb` to `README.md` (nbdev-readme needs Quarto, which these machines cannot install).

    python tools/nb2readme.py          # write README.md
    python tools/nb2readme.py --check  # exit 1 if README.md is not what index.ipynb renders to

Markdown cells are copied; code cells become ```python blocks followed by their saved text output; cells with a
`#| hide` directive are left out; links to sibling notebooks and to nbs/images/ are rewritten to point into nbs/.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _src(cell): return ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']


def render(nb_path=ROOT / 'nbs' / 'index.ipynb') -> str:
    "README text for the notebook at `nb_path`."
    nb = json.loads(Path(nb_path).read_text())
    parts = ['<!-- generated from nbs/index.ipynb by tools/nb2readme.py: edit the notebook, not this file -->']
    for cell in nb['cells']:
        lines = _src(cell).splitlines()
        directives = [l for l in lines if l.startswith('#|')]
        if any(re.match(r'#\|\s*hide\b', l) for l in directives): continue
        body = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if not body: continue
        if cell['cell_type'] == 'markdown':
            body = re.sub(r'\]\((?!https?:|/|#)([^)]+?\.ipynb)\)', r'](nbs/\1)', body)   # links to lessons
            parts.append(re.sub(r'\]\((?!https?:|/|#)(images/[^)]+)\)', r'](nbs/\1)', body))  # pictures beside them
        elif cell['cell_type'] == 'code':
            parts.append(f'```python\n{body}\n```')
            out = []
            for o in cell.get('outputs', []):
                if o.get('output_type') == 'stream': out.append(''.join(o['text']))
                elif 'text/plain' in o.get('data', {}): out.append(''.join(o['data']['text/plain']))
            if out: parts.append('```\n' + ''.join(out).rstrip('\n') + '\n```')
    return '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    text, readme = render(), ROOT / 'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text() == text
        print('README.md is in step with nbs/index.ipynb' if ok else 'README.md is out of step: run python tools/nb2readme.py')
        sys.exit(0 if ok else 1)
    readme.write_text(text); print(f'wrote {readme}')
