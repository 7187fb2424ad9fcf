#!/usr/bin/env python
"""Build the documentation site offline: the processed notebooks (`_proc/`) rendered to static HTML (`_site/`).

    python tools/build_docs.py [--proc _proc] [--out _site]

The published site is built by GitHub with `nbdev-docs`, i.e. `nbdev-proc-nbs` then Quarto. Quarto cannot be
installed everywhere this course is worked on, so this script renders the same processed notebooks with
**Sphinx + MyST-NB** (the engine of Jupyter Book) and the Furo theme, entirely from pip packages and without any
CDN. It exists so that the pages a reader sees (API docs, math, figures, outputs, links, sidebar) can be built and
checked on any machine (`tests/test_site.py` opens every page in a headless Chromium).

Why Sphinx + MyST-NB rather than MkDocs (+ mkdocs-jupyter / mkdocs-material):

* nbdev's `show_doc` cells (`#| output: asis`) produce Markdown, not HTML. Here they are turned into Markdown cells
  and parsed by the same MyST parser as the prose, so an API entry's `### name` heading is a real section with an
  anchor (the target of nbdev's API links), and math in docstrings is typeset. mkdocs-jupyter hands the notebook
  to nbconvert, which renders it outside MkDocs: MkDocs never sees those headings or links.
* Links between notebooks (`[lesson 02](02_scan_orders.ipynb)`, `…ipynb#a-heading`) are resolved by Sphinx as
  document references and checked: a link to a missing page or heading fails the build. With mkdocs-jupyter such
  links stay pointing at the `.ipynb` file (mkdocs-jupyter issues #157, #236).
* `$…$` and `$$…$$`: MyST's dollarmath can be set to pandoc's rules (no space inside the dollars, no digit after
  the closing one, `$$…$$` allowed inside a paragraph), and Sphinx's `mathjax` extension typesets it. MathJax 3.2.2
  comes from the `sphinx-mathjax-offline` wheel and is copied into the site: no CDN. nbconvert's templates (so
  mkdocs-jupyter's) load MathJax and require.js from a CDN unless reconfigured.
* PNG outputs are written as image files; `images/…` in Markdown is copied with the page; `echo: false` maps to
  MyST-NB's `remove-input` tag.
* `nbs/sidebar.yml` maps one-to-one onto Sphinx toctrees: each `section:` becomes a toctree with that caption, in
  order, which Furo shows as the sidebar.

What of Quarto's syntax is handled (what `nbdev-proc-nbs` leaves in `_proc/`): the `---` front matter in the first
raw cell (title, description, `output-file`, which names the page as on the real site: `selective_scan.html`);
`#| …` cell directives (removed from the shown code; `echo: false` hides the input, `output: false` the outputs,
`include: false` the cell, `output: asis` makes the Markdown output part of the page); `{target=… style=…}` link
attributes (the `[source]` links of API entries, kept as a floated link); heading attributes `{#id .class}`;
`::: {.callout-*}` fences (MyST admonitions) and other `::: {.class}` divs (containers); absolute links to the
site's own pages (nbdev's API links, `https://…/selective_scan.html#selective_scan`) become links inside the built
site, so they are checked too. Headings get pandoc's identifiers (`selective_scan`, `learner.fit`), so an anchor
of the real site is also an anchor here.

The script writes only to a temporary folder and to `--out`; it changes no tracked file. It runs
`nbdev-proc-nbs --n-workers 2` first if the default `_proc/` is missing (never `--force`: in nbdev 3.3 that
rewrites `nbs/sidebar.yml`). It exits non-zero with a one-line error when something is missing, and when Sphinx
warns (a broken link, an unknown image, an unrenderable output).
"""
import argparse
import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS_REQS = {'sphinx': 'sphinx', 'myst_nb': 'myst-nb', 'myst_parser': 'myst-parser', 'furo': 'furo',
             'sphinx-mathjax-offline': 'sphinx-mathjax-offline', 'yaml': 'pyyaml'}
CALLOUTS = {'note': 'note', 'tip': 'tip', 'warning': 'warning', 'important': 'important', 'caution': 'caution'}


class BuildError(Exception):
    "A problem to report in one line."


def pandoc_id(text):
    """The identifier pandoc (so Quarto) gives a heading with this text (its `auto_identifiers` rules): links and
    formatting dropped, only letters, digits, `_`, `-`, `.` kept, spaces to hyphens, lower case, nothing before the
    first letter."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', text)
    text = re.sub(r'[`*]', '', text)
    text = ''.join(ch for ch in text if ch in '_-. \n' or unicodedata.category(ch)[0] in 'LN')
    text = re.sub(r'\s+', '-', text.strip()).lower()
    m = re.search(r'[^\W\d_]', text)
    return text[m.start():] if m else 'section'


# ---------------------------------------------------------------------------------------------- Markdown rewriting
FENCE = re.compile(r'^\s{0,3}(`{3,}|~{3,})')
LINK = re.compile(r'(!?\[(?:[^\[\]]|\[[^\]]*\])*\]\()(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)((?:\s+"[^"]*")?\))'
                  r'(\{[^{}\n]*\})?')


def _split_code(md):
    "Yield (is_code, text) chunks: fenced code blocks are left alone by every rewrite."
    out, buf, fence = [], [], None
    for line in md.splitlines(keepends=True):
        m = FENCE.match(line)
        if fence is None and m:
            if buf: out.append((False, ''.join(buf)))
            buf, fence = [line], m.group(1)
        elif fence is not None:
            buf.append(line)
            if line.strip().startswith(fence[0] * len(fence)) and line.strip().strip(fence[0]) == '':
                out.append((True, ''.join(buf))); buf, fence = [], None
        else:
            buf.append(line)
    if buf: out.append((fence is not None, ''.join(buf)))
    return out


def _attr_classes(attrs):
    "The `.class` names in a pandoc attribute block `{#id .a .b key=val}`."
    return re.findall(r'(?:^|(?<=[{\s]))\.([\w-]+)', attrs)


class Rewriter:
    "Turns Quarto/pandoc Markdown of the processed notebooks into MyST Markdown for this site."

    def __init__(self, docnames, site_url):
        self.docnames = docnames                 # notebook file name -> page name ('02_scan_orders.ipynb' -> 'scan_orders')
        self.pages = set(docnames.values())
        self.site_url = site_url.rstrip('/') + '/' if site_url else None

    def target(self, url):
        "A link target inside the site as `page.ipynb#anchor` (which MyST resolves and checks), else unchanged."
        if url.startswith('<') and url.endswith('>'): url = url[1:-1]
        if self.site_url and url.startswith(self.site_url):
            url = url[len(self.site_url):] or 'index.html'
        if re.match(r'^[a-z][a-z0-9+.-]*:', url, re.I) or url.startswith(('/', '#')): return url
        path, _, anchor = url.partition('#')
        name = Path(path).name
        page = self.docnames.get(name)
        if page is None and name.endswith('.html') and name[:-5] in self.pages: page = name[:-5]
        if page is None and path in ('', '.', './'): page = 'index' if path else None
        if page is None: return url
        return f'{page}.ipynb' + (f'#{anchor}' if anchor else '')

    def _link(self, m):
        head, url, tail, attrs = m.groups()
        url = self.target(url)
        if not attrs: return f'{head}{url}{tail}'
        # pandoc link/image attributes: MyST keeps classes, an id, `target` and `rel`; `style="float:right"` (nbdev's
        # `[source]` links) becomes a class that the site's CSS floats; other styles are dropped
        keep = ['.' + c for c in _attr_classes(attrs)]
        if 'float:right' in attrs.replace(' ', ''): keep.append('.float-right')
        keep += re.findall(r'(?:^|(?<=[{\s]))#[\w.:-]+', attrs)
        keep += [f'{k}="{v}"' for k, v in re.findall(r'(?<![\w-])(target|rel)="([^"]*)"', attrs)]
        return f'{head}{url}{tail}' + ('{' + ' '.join(keep) + '}' if keep else '')

    def prose(self, md):
        "Rewrite Markdown outside code: links, heading attributes, fences, MyST-only syntax that pandoc reads as text."
        md = LINK.sub(self._link, md)
        lines = []
        for line in md.splitlines(keepends=True):
            # heading attributes: `## Title {#id .unnumbered}` -> a MyST label, pandoc keeps the id
            h = re.match(r'^(#{1,6}\s.*?)\s*\{([^{}]*)\}\s*$', line)
            if h and not line.rstrip().endswith('`}'):
                ident = re.search(r'#([\w.:-]+)', h.group(2))
                if ident: lines.append(f'({ident.group(1)})=\n')
                line = h.group(1) + '\n'
            # Quarto divs: `::: {.callout-note}` / `::: {.callout-tip title="…"}` / `::: {.foo}` / closing `:::`
            d = re.match(r'^(:{3,})\s*\{([^{}]*)\}\s*$', line) or re.match(r'^(:{3,})\s*([\w-]+)\s*$', line)
            if d:
                classes = _attr_classes(d.group(2)) or [d.group(2)]
                kind = next((CALLOUTS[c[8:]] for c in classes if c.startswith('callout-') and c[8:] in CALLOUTS), None)
                title = re.search(r'title="([^"]*)"', d.group(2))
                if kind and title: line = f'{d.group(1)}{{admonition}} {title.group(1)}\n:class: {kind}\n'
                elif kind: line = f'{d.group(1)}{{{kind}}}\n'
                else: line = f'{d.group(1)}{{container}} {" ".join(classes)}\n'
            # a line MyST would read as a comment (`%`) or a block break (`+++`): pandoc shows it as text
            elif re.match(r'^\s{0,3}(%|\+\+\+)', line):
                line = re.sub(r'^(\s*)', r'\1\\', line, count=1)
            lines.append(line)
        return ''.join(lines)

    def markdown(self, md):
        return ''.join(text if code else self.prose(text) for code, text in _split_code(md))


# ------------------------------------------------------------------------------------------------- notebook staging
DIRECTIVE = re.compile(r'^\s*#\|\s?(.*)$')


def _directives(src):
    "Split `#| key: value` lines off a code cell's source: (options, remaining source)."
    import yaml
    opts, lines = {}, src.splitlines()
    i = 0
    while i < len(lines) and (DIRECTIVE.match(lines[i]) or not lines[i].strip()):
        m = DIRECTIVE.match(lines[i])
        if m:
            try:
                val = yaml.safe_load(m.group(1))
            except yaml.YAMLError:
                val = None
            if isinstance(val, dict): opts.update(val)
            elif isinstance(val, str): opts[val.strip()] = True     # nbdev's bare flags (`#| hide`, `#| export`)
        i += 1
    return opts, '\n'.join(lines[i:])


def _front_matter(nb, path):
    "The YAML front matter nbdev puts in the first raw cell (and removes the cell)."
    import yaml
    for i, c in enumerate(nb['cells']):
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw' and src.lstrip().startswith('---'):
            parts = src.split('---')
            try:
                fm = yaml.safe_load(parts[1]) or {}
            except yaml.YAMLError as e:
                raise BuildError(f'{path.name}: front matter is not YAML ({e})'.replace('\n', ' '))
            del nb['cells'][i]
            return fm
        if c['cell_type'] != 'raw': break
    return {}


def _md_cell(text):
    return {'cell_type': 'markdown', 'metadata': {}, 'source': text}


def stage_notebook(path, rw, title_hint):
    "A copy of one processed notebook, in the Markdown dialect and with the cell tags MyST-NB understands."
    nb = json.loads(path.read_text(encoding='utf-8'))
    fm = _front_matter(nb, path)
    title = str(fm.get('title') or title_hint)
    head = f'# {rw.markdown(title)}\n'
    if fm.get('description'):
        head += '\n{.description}\n' + rw.markdown(str(fm['description']).strip()) + '\n'
    cells = [_md_cell(head)]
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown':
            if src.strip() == '<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->': continue
            cells.append(_md_cell(rw.markdown(src)))
            continue
        if c['cell_type'] != 'code':
            continue                                   # raw cells are not shown by Quarto's HTML output either
        opts, body = _directives(src)
        if opts.get('include') is False: continue
        c = copy.deepcopy(c)
        c['source'] = body
        tags = set(c.get('metadata', {}).get('tags', []))
        if opts.get('echo') is False or not body.strip(): tags.add('remove-input')
        if opts.get('output') is False: tags.add('remove-output')
        outputs = c.get('outputs', [])
        asis = opts.get('output') == 'asis'
        for o in outputs:
            data = o.get('data', {})
            if 'text/markdown' in data: data['text/markdown'] = rw.markdown(''.join(data['text/markdown']))
        if asis:
            # Quarto includes the Markdown an `output: asis` cell prints as part of the page (show_doc entries)
            md = []
            for o in outputs:
                data = o.get('data', {})
                if 'text/markdown' in data: md.append(data['text/markdown'])
                elif o.get('output_type') == 'stream': md.append(''.join(o.get('text', '')))
                elif 'text/plain' in data: md.append(''.join(data['text/plain']))
            c['outputs'] = [o for o in outputs if o.get('output_type') == 'error']
            if 'remove-input' not in tags or c['outputs']:
                c['metadata'] = {**c.get('metadata', {}), 'tags': sorted(tags)}
                cells.append(c)
            if md: cells.append(_md_cell('\n\n'.join(m.strip('\n') for m in md) + '\n'))
            continue
        if 'remove-input' in tags and not outputs: continue
        c['metadata'] = {**c.get('metadata', {}), 'tags': sorted(tags)}
        cells.append(c)
    nb['cells'] = cells
    nb['metadata'].pop('widgets', None)            # no ipywidgets state: it would pull require.js from a CDN
    nb['metadata'].setdefault('kernelspec', {'display_name': 'python3', 'language': 'python', 'name': 'python3'})
    nb['metadata'].setdefault('language_info', {'name': 'python'})
    return nb


# --------------------------------------------------------------------------------------------------------- sidebar
def sidebar_entries(proc):
    """The hand-written sidebar as [(caption or None, [notebook, …]), …], in its order. Top-level pages between
    sections form captionless groups; nested sections are flattened into their top-level section."""
    import yaml
    f = proc / 'sidebar.yml'
    if not f.exists(): f = ROOT / 'nbs' / 'sidebar.yml'
    if not f.exists(): raise BuildError(f'no sidebar.yml in {proc} or nbs/: the sidebar order is unknown')
    try:
        contents = yaml.safe_load(f.read_text())['website']['sidebar']['contents']
    except (KeyError, TypeError, yaml.YAMLError) as e:
        raise BuildError(f'{f}: no website.sidebar.contents ({type(e).__name__}: {e})'.replace('\n', ' '))

    def files(items):
        for it in items or []:
            if isinstance(it, str): yield it
            elif isinstance(it, dict):
                if it.get('href'): yield it['href']
                yield from files(it.get('contents'))

    groups = []
    for it in contents:
        if isinstance(it, dict) and 'section' in it:
            groups.append((str(it['section']), list(files(it.get('contents')))))
        else:
            names = list(files([it]))
            if groups and groups[-1][0] is None: groups[-1][1].extend(names)
            else: groups.append((None, names))
    return groups


def _toctree(caption, pages):
    opts = ':hidden:\n:titlesonly:\n' + (f':caption: {caption}\n' if caption else '')
    return '```{toctree}\n' + opts + '\n' + '\n'.join(pages) + '\n```\n'


CONF = '''\
# Generated by tools/build_docs.py: Sphinx configuration of the offline docs site.
import sys
sys.path.insert(0, {tools!r})
from build_docs import pandoc_id

project = {title!r}
html_title = {title!r}
root_doc = 'index'
extensions = ['myst_nb', 'sphinx.ext.mathjax', 'sphinx-mathjax-offline']
exclude_patterns = ['_build', '**.ipynb_checkpoints']
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'attrs_inline', 'attrs_block', 'deflist']
myst_dmath_double_inline = True      # pandoc: `$$…$$` may sit inside a paragraph
myst_dmath_allow_space = False       # pandoc: `$ x$` and `$x $` are not math
myst_dmath_allow_digits = False      # pandoc: `$x$1` is not math ("costs $5 or $10")
myst_heading_anchors = 6
myst_heading_slug_func = 'build_docs.pandoc_id'   # a name, so Sphinx can cache the configuration
myst_links_external_new_tab = False
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'
nb_output_stderr = 'show'
nb_merge_streams = True
nb_ipywidgets_js = {{}}
html_theme = 'furo'
html_static_path = ['_static']
html_css_files = ['vmddpm.css']
html_favicon = '_static/favicon.svg'   # else browsers ask for /favicon.ico, which a static site does not have
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
pygments_style = 'default'
suppress_warnings = ['myst.header']   # show_doc entries are `###` under `##` or directly under the title


def _pandoc_ids(app, doctree):
    "Give every section pandoc's identifier too, so the real site's anchors (`#selective_scan`) exist here."
    from docutils import nodes
    seen = set()
    for sec in doctree.findall(nodes.section):
        pid = pandoc_id(sec[0].astext()) if len(sec) and isinstance(sec[0], nodes.title) else None
        if not pid: continue
        base, n = pid, 1
        while pid in seen: pid, n = f'{{base}}-{{n}}', n + 1
        seen.add(pid)
        if pid not in sec['ids'] and not doctree.ids.get(pid):
            sec['ids'].append(pid); doctree.ids[pid] = sec


def setup(app):
    app.connect('doctree-read', _pandoc_ids)
'''

CSS = '''\
/* Generated by tools/build_docs.py: what nbdev's styles.css does for Quarto, for MyST-NB's markup. */
p.description { font-style: italic; font-size: 135%; opacity: 70%; padding-left: 2px; margin-top: -0.5rem; }
a.float-right { float: right; font-size: smaller; }
div.cell { margin-bottom: 1rem; }
div.cell_output .output pre { margin-left: 0.8rem; border-left: 2px solid lightsalmon; background: none;
  border-radius: 0; }
div.cell_output img { max-width: 100%; height: auto; }
.sidebar-tree .caption { text-transform: none; }
'''


FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
           'fill="#2962ff"/><path d="M4 20 C9 6, 13 6, 16 16 S23 26, 28 12" stroke="#fff" stroke-width="3" '
           'fill="none"/></svg>\n')


def _missing_packages():
    return [pip for mod, pip in DOCS_REQS.items() if importlib.util.find_spec(mod) is None]


def _ensure_proc(proc, default):
    if proc.is_dir() and any(proc.glob('*.ipynb')): return
    if not default:
        raise BuildError(f'{proc} has no processed notebooks: run `nbdev-proc-nbs` (or pass --proc)')
    exe = shutil.which('nbdev-proc-nbs', path=str(Path(sys.executable).parent)) or shutil.which('nbdev-proc-nbs')
    if not exe: raise BuildError('nbdev-proc-nbs not found: install the dev extra (pip install -e ".[dev]")')
    print(f'{proc} missing: running nbdev-proc-nbs --n-workers 2', flush=True)
    r = subprocess.run([exe, '--n-workers', '2'], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0 or not any(proc.glob('*.ipynb')):
        last = (r.stderr.strip() or r.stdout.strip() or 'no output').splitlines()[-1]
        raise BuildError(f'nbdev-proc-nbs failed (exit {r.returncode}): {last}')


def stage(proc, src):
    "Write the Sphinx source folder `src` from the processed notebooks in `proc`; return {notebook: page name}."
    import yaml
    groups = sidebar_entries(proc)
    listed = [f for _, fs in groups for f in fs]
    missing = [f for f in listed if not (proc / f).exists()]
    if missing: raise BuildError(f'sidebar.yml lists notebooks that are not in {proc}: {", ".join(missing)}')
    if not (proc / 'index.ipynb').exists(): raise BuildError(f'{proc}/index.ipynb is missing: the site has no home page')
    nbs = sorted(p for p in proc.glob('*.ipynb') if not p.name.startswith('_'))
    fms = {}
    for p in nbs:
        nb = json.loads(p.read_text(encoding='utf-8'))
        fms[p.name] = _front_matter(nb, p)
    docnames = {}
    for p in nbs:
        out = fms[p.name].get('output-file') or (re.sub(r'^\d+_', '', p.stem) + '.html')
        docnames[p.name] = 'index' if p.name == 'index.ipynb' else Path(str(out)).stem
    dup = [n for n in set(docnames.values()) if list(docnames.values()).count(n) > 1]
    if dup: raise BuildError(f'two notebooks would be the same page: {dup}')
    site_url = None
    if (proc / 'nbdev.yml').exists():
        site_url = ((yaml.safe_load((proc / 'nbdev.yml').read_text()) or {}).get('website') or {}).get('site-url')
    rw = Rewriter(docnames, site_url)

    for item in proc.iterdir():                    # images and any other files the pages refer to
        if item.suffix == '.ipynb' or item.name.startswith(('.', '_')) or item.suffix in ('.yml', '.yaml'): continue
        if item.name == 'styles.css': continue
        (shutil.copytree if item.is_dir() else shutil.copy2)(item, src / item.name)
    for p in nbs:
        nb = stage_notebook(p, rw, p.stem)
        if p.name == 'index.ipynb':
            trees = [_toctree(cap, ['self' if f == 'index.ipynb' else docnames[f] for f in fs]) for cap, fs in groups]
            nb['cells'].append(_md_cell('\n'.join(trees)))
        elif p.name not in listed:
            nb['metadata']['orphan'] = True          # rendered, but not in the sidebar (as with Quarto)
        (src / f'{docnames[p.name]}.ipynb').write_text(json.dumps(nb), encoding='utf-8')
    title = (yaml.safe_load((proc / 'nbdev.yml').read_text()) or {}).get('website', {}).get('title') \
        if (proc / 'nbdev.yml').exists() else None
    (src / '_static').mkdir(exist_ok=True)
    (src / '_static' / 'vmddpm.css').write_text(CSS)
    (src / '_static' / 'favicon.svg').write_text(FAVICON)
    (src / 'conf.py').write_text(CONF.format(tools=str(Path(__file__).resolve().parent), title=title or ROOT.name))
    return docnames


def build(proc, out):
    "Render the processed notebooks in `proc` into the site folder `out`; return `out`. Raises BuildError."
    if _missing_packages():
        raise BuildError(f'missing {", ".join(_missing_packages())}: install the docs extra (pip install -e ".[docs]")')
    out = Path(out).resolve()
    if out == ROOT or ROOT.is_relative_to(out) or out.is_relative_to(ROOT / 'nbs') or out == Path(proc).resolve():
        raise BuildError(f'--out {out} would overwrite the sources')
    if out.exists() and any(out.iterdir()) and not (out / '.buildinfo').exists():
        raise BuildError(f'{out} exists and is not a site built by this script: refusing to overwrite it')
    with tempfile.TemporaryDirectory(prefix='vmddpm_docs_') as tmp:
        src = Path(tmp) / 'src'; src.mkdir()
        docnames = stage(Path(proc), src)
        if out.exists(): shutil.rmtree(out)
        warnings = Path(tmp) / 'warnings.txt'
        # -W --keep-going: every warning (a broken link or anchor, a missing image) is listed and fails the build
        cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-E', '-n', '-W', '--keep-going', '-j', '1',
               '-d', str(Path(tmp) / 'doctrees'), '-w', str(warnings), str(src), str(out)]
        r = subprocess.run(cmd, cwd=tmp, env={**os.environ, 'PYTHONDONTWRITEBYTECODE': '1'}, capture_output=True, text=True)
        if r.returncode != 0:
            warn = [l for l in warnings.read_text().splitlines() if l.strip()] if warnings.exists() else []
            # name the processed notebook, not the staged copy (`/tmp/…/src/selective_scan.ipynb:480004:`)
            pages = {f'{page}.ipynb': nb for nb, page in docnames.items()}
            def where(line):
                return re.sub(r'^(?:.*[/\\])?([\w.-]+\.ipynb)(?::\d+)?:',
                              lambda m: f'{pages.get(m.group(1), m.group(1))}:', line.replace(str(src) + os.sep, ''))
            shown = [where(l) for l in warn if 'WARNING' in l or 'ERROR' in l] or \
                    [l for l in (r.stderr or r.stdout or '').splitlines() if l.strip()][-5:]
            print('\n'.join(shown), file=sys.stderr)
            first = re.sub(r'\s*\[[\w.]+\]$', '', shown[0]) if shown else f'sphinx-build exited {r.returncode}'
            raise BuildError(f'{len(shown)} problem(s) in the site; first: {first}')
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--proc', default=None, help='folder of processed notebooks (default: _proc, made if missing)')
    ap.add_argument('--out', default=str(ROOT / '_site'), help='folder to write the site to (default: _site)')
    args = ap.parse_args(argv)
    proc = Path(args.proc).resolve() if args.proc else ROOT / '_proc'
    try:
        _ensure_proc(proc, default=args.proc is None or proc == ROOT / '_proc')
        out = build(proc, args.out)
    except BuildError as e:
        print(f'build_docs: error: {e}', file=sys.stderr)
        return 1
    print(f'site written to {out} (open {out / "index.html"})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
