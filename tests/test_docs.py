"""Docs checks that Quarto would otherwise do, on the notebooks as `nbdev-proc-nbs` processes them for the site.

The `proc_dir` fixture (conftest.py) runs `nbdev-proc-nbs` from scratch: the step of `nbdev-docs` that runs before
Quarto, and the one that used to fail. The tests below then check what Quarto would turn into broken pages: a sidebar
entry without a notebook, an exported symbol without its API entry, a link to a page, anchor, image or source file
that does not exist."""
import importlib
import importlib.util
import json
import re
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
DOC_HOST = 'https://vmddpm-nb.github.io/vmddpm_nb/'
SRC_HOST = 'https://github.com/vmddpm-nb/vmddpm_nb/blob/main/'


def _nb2readme():
    spec = importlib.util.spec_from_file_location('nb2readme', ROOT / 'tools' / 'nb2readme.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_readme_in_step_with_index():
    expected = _nb2readme().render(ROOT / 'nbs' / 'index.ipynb')
    actual = (ROOT / 'README.md').read_text()
    assert actual == expected, 'README.md is out of step with nbs/index.ipynb: run `python tools/nb2readme.py`'


def test_readme_states_the_two_commands():
    text = (ROOT / 'README.md').read_text()
    assert 'vmddpm demo' in text and '\npytest' in text


def _sidebar_files():
    "Every file the hand-written sidebar names, in order."
    def walk(items):
        for it in items:
            if isinstance(it, str): yield it
            elif isinstance(it, dict):
                if 'href' in it: yield it['href']
                yield from walk(it.get('contents', []))
    return list(walk(yaml.safe_load((NBS / 'sidebar.yml').read_text())['website']['sidebar']['contents']))


def test_sidebar_lists_every_notebook_and_only_notebooks_that_exist():
    "The docs sidebar is hand-written (custom_sidebar): every lesson is in it once, and every entry exists."
    listed = _sidebar_files()
    lessons = [p.name for p in sorted(NBS.glob('*.ipynb')) if not p.name.startswith('_')]
    assert not [f for f in lessons if f not in listed], f'add these notebooks to nbs/sidebar.yml: {[f for f in lessons if f not in listed]}'
    assert not [f for f in listed if not (NBS / f).exists()], f'nbs/sidebar.yml names missing files: {[f for f in listed if not (NBS / f).exists()]}'
    assert len(listed) == len(set(listed)), f'a page is listed twice: {listed}'


def _markdown(nb):
    "Every markdown text a page shows: markdown cells and markdown outputs (show_doc writes its entries as those)."
    for c in nb['cells']:
        if c['cell_type'] == 'markdown': yield ''.join(c['source'])
        for o in c.get('outputs', []):
            md = o.get('data', {}).get('text/markdown')
            if md: yield ''.join(md)


def _strip_code(md):
    "Markdown without fenced code blocks and inline code spans (links and headings there are not links or headings)."
    md = re.sub(r'^```.*?^```', '', md, flags=re.S | re.M)
    return md


def pandoc_id(text):
    "The identifier pandoc (so Quarto) gives a heading: its `auto_identifiers` rules."
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)           # links keep their text
    text = re.sub(r'[`*]', '', text)                                # formatting
    text = ''.join(ch for ch in text if ch in '_-. \n' or unicodedata.category(ch)[0] in 'LN')
    text = re.sub(r'\s+', '-', text.strip()).lower()
    m = re.search(r'[^\W\d_]', text)                                # everything up to the first letter goes
    return text[m.start():] if m else 'section'


def _page_name(nb_name):
    "nbdev publishes `01_selective_scan.ipynb` as `selective_scan.html`."
    return re.sub(r'^\d+_', '', Path(nb_name).stem)


def _anchors(nb):
    ids = set()
    for md in _markdown(nb):
        for line in _strip_code(md).splitlines():
            m = re.match(r'^#{1,6}\s+(.*?)\s*(\{#([^}\s]+)[^}]*\})?\s*$', line)
            if m: ids.add(m.group(3) or pandoc_id(m.group(1)))
    return ids


def _proc_notebooks(proc_dir):
    return {p.name: json.loads(p.read_text()) for p in sorted(proc_dir.glob('*.ipynb'))}


def test_every_notebook_processes_for_the_docs(proc_dir):
    lessons = sorted(p.name for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))
    processed = sorted(_proc_notebooks(proc_dir))
    assert processed == lessons, f'nbdev-proc-nbs left out {sorted(set(lessons) - set(processed))}'


def _module_notebook(mod):
    m = re.search(r'File to edit: \.\./nbs/(\S+\.ipynb)', Path(mod.__file__).read_text())
    assert m, f'{mod.__name__} does not say which notebook it is exported from'
    return m.group(1)


def test_every_exported_symbol_has_its_api_entry(proc_dir):
    "Each name in a module's `__all__` has a docstring and a `show_doc` entry on the page of its notebook."
    nbs = _proc_notebooks(proc_dir)
    modidx = importlib.import_module('vmddpm_nb._modidx').d['syms']
    problems = []
    for modname in modidx:
        mod = importlib.import_module(modname)
        page = _module_notebook(mod)
        headings = {line.lstrip('#').strip() for md in _markdown(nbs[page]) for line in md.splitlines()
                    if re.match(r'^#{2,4} \S', line)}
        for name in getattr(mod, '__all__', []):
            obj = getattr(mod, name)
            if callable(obj) and not (getattr(obj, '__doc__', None) or '').strip():
                problems.append(f'{modname}.{name}: no docstring')
            if callable(obj) and name not in headings:
                problems.append(f'{modname}.{name}: no show_doc entry in {page}')
    assert not problems, 'API entries missing:\n' + '\n'.join(problems)


def test_every_internal_link_and_image_resolves(proc_dir):
    """Links between pages (relative `NN_x.ipynb` or the site's absolute URLs, as nbdev writes API links), their
    anchors, images, and the `[source]` links of API entries: each must point at something that exists."""
    nbs = _proc_notebooks(proc_dir)
    pages = {_page_name(n): n for n in nbs}
    anchors = {n: _anchors(nb) for n, nb in nbs.items()}
    bad = []
    for name, nb in nbs.items():
        for md in _markdown(nb):
            md = _strip_code(md)
            targets = re.findall(r'\]\(([^)\s]+)(?:\s+"[^"]*")?\)', md) + re.findall(r'<img[^>]*\ssrc="([^"]+)"', md)
            for t in targets:
                if t.startswith(SRC_HOST):
                    path, _, line = t[len(SRC_HOST):].partition('#L')
                    f = ROOT / path
                    if not f.exists(): bad.append(f'{name}: source link to missing {path}')
                    elif line and int(line) > len(f.read_text().splitlines()): bad.append(f'{name}: {t} is past the end')
                    continue
                if t.startswith(DOC_HOST):
                    page, _, anchor = t[len(DOC_HOST):].partition('#')
                    target = pages.get(Path(page).stem or 'index')
                elif re.match(r'^[a-z]+:', t): continue                        # other sites, mailto:
                else:
                    page, _, anchor = t.partition('#')
                    if not page: target = name
                    elif page.endswith('.ipynb'): target = page if page in nbs else None
                    else:
                        if not (NBS / page).exists(): bad.append(f'{name}: file {page} does not exist under nbs/')
                        continue
                if target is None: bad.append(f'{name}: link to a page that does not exist: {t}')
                elif anchor and anchor not in anchors[target]: bad.append(f'{name}: no anchor #{anchor} on {target} ({t})')
    assert not bad, 'broken links:\n' + '\n'.join(sorted(set(bad)))


def test_pandoc_ids():
    "The anchor rule the link check relies on, on headings whose ids Quarto's output shows."
    assert pandoc_id('DiffusionCallback.before_batch') == 'diffusioncallback.before_batch'
    assert pandoc_id('_per_channel') == 'per_channel'
    assert pandoc_id('Paths are permutations of raster indices') == 'paths-are-permutations-of-raster-indices'
    assert pandoc_id('3. The `SS2D` layer') == 'the-ss2d-layer'
