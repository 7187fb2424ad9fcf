"""The docs site as a reader sees it: built offline by `tools/build_docs.py` from the processed notebooks, then every
page opened in Debian's Chromium.

`nbdev-docs` (Quarto) builds the published site on GitHub; Quarto is not installed here, so `tools/build_docs.py`
renders the same `_proc/` notebooks with Sphinx + MyST-NB. The build test runs wherever the docs extra is installed
(`pip install -e ".[docs]"`). The browser test needs `chromium` and `chromium-driver` (Debian) and selenium: it
skips with the reason when they are missing, except under CI=true, where it fails.

Set VMDDPM_SITE_SCREENSHOT=/some/file.png to keep a screenshot of the selective-scan lesson."""
import functools
import html.parser
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get('CI', '').lower() == 'true'
DOCS_MODULES = {'sphinx': 'sphinx', 'myst_nb': 'myst-nb', 'furo': 'furo', 'sphinx-mathjax-offline': 'sphinx-mathjax-offline'}


def _unavailable(reason):
    "Skip with the reason on a developer's machine; under CI=true a missing tool is a failure, not a skip."
    if IN_CI: pytest.fail(f'{reason} (CI=true: a missing docs tool fails instead of skipping)')
    pytest.skip(reason)


# ----------------------------------------------------------------------------------------- what the site must show
def _front_matter(nb):
    c = nb['cells'][0] if nb['cells'] else None
    if c and c['cell_type'] == 'raw' and ''.join(c['source']).lstrip().startswith('---'):
        return yaml.safe_load(''.join(c['source']).split('---')[1]) or {}
    return {}


def _page_of(proc_dir, nb_name):
    "The HTML page a processed notebook becomes: its `output-file` (nbdev names it), as on the published site."
    if nb_name == 'index.ipynb': return 'index.html'
    fm = _front_matter(json.loads((proc_dir / nb_name).read_text()))
    return Path(str(fm.get('output-file') or re.sub(r'^\d+_', '', Path(nb_name).stem) + '.html')).name


def _sidebar():
    "nbs/sidebar.yml as ([(section or None, [notebook, …]), …]), in its order."
    def files(items):
        for it in items or []:
            if isinstance(it, str): yield it
            elif isinstance(it, dict):
                if it.get('href'): yield it['href']
                yield from files(it.get('contents'))
    groups = []
    for it in yaml.safe_load((ROOT / 'nbs' / 'sidebar.yml').read_text())['website']['sidebar']['contents']:
        if isinstance(it, dict) and 'section' in it: groups.append((it['section'], list(files(it.get('contents')))))
        else: groups.append((None, list(files([it]))))
    return groups


def _strip_code(md):
    md = re.sub(r'^\s*(```|~~~).*?^\s*\1[`~]*\s*$', '', md, flags=re.S | re.M)
    return re.sub(r'(`+)(?!`).+?(?<!`)\1(?!`)', '', md, flags=re.S)


MATH = re.compile(r'\$\$.+?\$\$|(?<![\\$\w])\$(?=[^\s$])[^$\n]+?(?<=[^\s\\$])\$(?!\d)', re.S)


def _has_latex(nb):
    "Whether a notebook's prose (markdown cells, markdown outputs, the description) has `$…$` or `$$…$$` math."
    texts = [str(_front_matter(nb).get('description', ''))]
    for c in nb['cells']:
        if c['cell_type'] == 'markdown': texts.append(''.join(c['source']))
        for o in c.get('outputs', []):
            if 'text/markdown' in o.get('data', {}): texts.append(''.join(o['data']['text/markdown']))
    return any(MATH.search(_strip_code(t)) for t in texts)


# ------------------------------------------------------------------------------------------------------ the build
@pytest.fixture(scope='module')
def site(proc_dir, tmp_path_factory):
    "The site built by the documented command, into a temporary folder, and the time it took."
    missing = [pip for mod, pip in DOCS_MODULES.items() if importlib.util.find_spec(mod) is None]
    if missing: _unavailable(f'docs extra not installed (missing {", ".join(missing)}): pip install -e ".[docs]"')
    out = tmp_path_factory.mktemp('site') / '_site'
    before = _git_state()
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--proc', str(proc_dir), '--out', str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, f'tools/build_docs.py failed:\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}'
    assert _git_state() == before, 'tools/build_docs.py changed files in the repository'
    return out


def _git_state():
    r = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all'], cwd=ROOT, capture_output=True, text=True)
    return r.stdout


class _Links(html.parser.HTMLParser):
    "The ids, link targets and asset URLs of one HTML page."
    def __init__(self):
        super().__init__(); self.ids, self.hrefs, self.assets = set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        if tag == 'a' and a.get('href') is not None: self.hrefs.append(a['href'])
        if tag in ('script', 'img', 'iframe') and a.get('src'): self.assets.append(a['src'])
        if tag == 'link' and a.get('href'): self.assets.append(a['href'])


def _parse(page):
    p = _Links(); p.feed(page.read_text(encoding='utf-8')); return p


def test_site_builds_offline_with_every_sidebar_page(site, proc_dir):
    """The documented build makes a page for every sidebar entry, loads nothing from outside the site (no CDN: the
    site must work offline), carries MathJax itself, and every relative link and asset in the HTML exists."""
    pages = [_page_of(proc_dir, f) for _, fs in _sidebar() for f in fs]
    assert not [p for p in pages if not (site / p).is_file()], f'pages missing from the site: {[p for p in pages if not (site / p).is_file()]}'
    assert (site / '_static' / 'mathjax' / 'tex-chtml.js').is_file(), 'MathJax is not part of the site'
    problems = []
    parsed = {p.relative_to(site).as_posix(): _parse(p) for p in site.rglob('*.html')}
    for rel, p in parsed.items():
        for url in p.assets:
            if urlsplit(url).scheme or url.startswith('//'): problems.append(f'{rel}: loads {url} from outside the site')
            elif not (site / Path(rel).parent / unquote(urlsplit(url).path)).exists(): problems.append(f'{rel}: missing asset {url}')
        for href in p.hrefs:
            u = urlsplit(href)
            if u.scheme or href.startswith(('//', 'mailto:')): continue
            target = (Path(rel).parent / unquote(u.path)).as_posix() if u.path else rel
            target = os.path.normpath(target)
            if not (site / target).exists(): problems.append(f'{rel}: link {href} to a missing file'); continue
            if u.fragment and target in parsed and unquote(u.fragment) not in parsed[target].ids:
                problems.append(f'{rel}: link {href} to a missing anchor')
    assert not problems, f'{len(problems)} problem(s):\n' + '\n'.join(problems[:40])


def test_build_reports_a_missing_proc_folder_in_one_line(tmp_path):
    "A wrong --proc is one clear line and a non-zero exit, and it does not try to run nbdev-proc-nbs elsewhere."
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--proc', str(tmp_path / 'nope'),
                        '--out', str(tmp_path / 'site')], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'nope' in lines[0] and lines[0].startswith('build_docs: error:'), r.stderr
    assert not (tmp_path / 'site').exists()


def _nb(cells, fm=None):
    cells = ([{'cell_type': 'raw', 'metadata': {}, 'source': '---\n' + yaml.safe_dump(fm) + '\n---\n'}] if fm else []) + cells
    return json.dumps({'cells': cells, 'metadata': {'kernelspec': {'name': 'python3', 'display_name': 'python3',
                       'language': 'python'}}, 'nbformat': 4, 'nbformat_minor': 5})


def _md(s): return {'cell_type': 'markdown', 'metadata': {}, 'source': s}


def _code(s, outputs): return {'cell_type': 'code', 'metadata': {}, 'source': s, 'execution_count': None, 'outputs': outputs}


PNG_1x1 = bytes.fromhex('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
                        '1f15c4890000000d49444154789c6360f8cfc0f01f0005000201d0'
                        'a0a8ee0000000049454e44ae426082')


def _mini_proc(root, extra_link=''):
    "A processed-notebook folder with each Quarto construct nbdev leaves in `_proc/`, and a sidebar not in file order."
    site = 'https://example.github.io/mini/'
    (root / 'images').mkdir(parents=True)
    (root / 'images' / 'dot.png').write_bytes(PNG_1x1)
    (root / 'nbdev.yml').write_text(yaml.safe_dump({'website': {'title': 'mini', 'site-url': site.rstrip('/')}}))
    (root / 'sidebar.yml').write_text(yaml.safe_dump({'website': {'sidebar': {'contents': [
        'index.ipynb', {'section': 'Part two first', 'contents': ['02_b.ipynb', '01_a.ipynb']}]}}}))
    (root / 'index.ipynb').write_text(_nb([_md('Home. See [lesson a](01_a.ipynb#custom-id).' + extra_link)],
                                          {'title': 'mini', 'output-file': 'index.html', 'description': 'About $x$.'}))
    show_doc = {'output_type': 'execute_result', 'execution_count': 1, 'metadata': {}, 'data': {
        'text/plain': '<IPython.core.display.Markdown object>',
        'text/markdown': '---\n\n[source](https://github.com/o/r/blob/main/m.py#L1){target="_blank" '
                         'style="float:right; font-size:smaller"}\n\n### Thing.run\n\n```python\ndef run(x):\n```\n\n'
                         '*Runs $y = x_1$.*'}}
    (root / '01_a.ipynb').write_text(_nb([
        _md('<!-- WARNING: THIS FILE WAS AUTOGENERATED! DO NOT EDIT! -->'),
        _md('## Custom heading {#custom-id}\n\nInline $$a^2$$ and display\n\n$$\\sum_i x_i$$\n\n![a dot](images/dot.png)'),
        _md('::: {.callout-note}\nA Quarto callout.\n:::'),
        _code('#| echo: false\n#| output: asis\nshow_doc(Thing.run)', [show_doc]),
        _code('#| cuda: true\nprint("on a gpu")', [{'output_type': 'stream', 'name': 'stdout', 'text': 'on a gpu\n'}]),
        _code('#| echo: false\nplot()', [{'output_type': 'display_data', 'metadata': {},
                                          'data': {'image/png': __import__('base64').b64encode(PNG_1x1).decode(), 'text/plain': '<Figure>'}}]),
    ], {'title': 'Page A', 'output-file': 'a.html', 'description': 'The first page.'}))
    (root / '02_b.ipynb').write_text(_nb([_md(f'Back to [the API entry]({site}a.html#thing.run) of [page a](01_a.ipynb).')],
                                         {'title': 'Page B', 'output-file': 'b.html'}))
    return root


def _sidebar_links(html_text, this):
    "The pages the sidebar links to, in order (a page links to itself as `#`)."
    nav = html_text.split('class="sidebar-tree"', 1)[1].split('</aside>', 1)[0]
    return [h.split('#')[0] or this for h in re.findall(r'<a class="[^"]*\breference internal[^"]*" href="([^"]*)"', nav)]


def test_quarto_constructs_render(tmp_path):
    """On a small hand-made `_proc/`: front matter becomes the title, `#|` directives and `echo: false` inputs are
    hidden, a show_doc entry becomes a section with pandoc's anchor, callouts become admonitions, `$$…$$` inside a
    paragraph is math, images and PNG outputs are copied, cross-links (also nbdev's absolute API links) become
    links inside the site, and the sidebar follows sidebar.yml rather than file order."""
    if [m for m in DOCS_MODULES if importlib.util.find_spec(m) is None]:
        _unavailable('docs extra not installed: pip install -e ".[docs]"')
    proc = _mini_proc(tmp_path / 'proc')
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--proc', str(proc), '--out', str(tmp_path / 'site')],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    a, b, index = (((tmp_path / 'site' / f).read_text()) for f in ('a.html', 'b.html', 'index.html'))
    assert re.search(r'<h1>Page A', a) and 'class="description' in a
    assert '#|' not in a and 'cuda: true' not in a and 'show_doc' not in a and 'plot' not in a
    assert '<span class="nb">print</span>' in a and 'on a gpu' in a       # a shown cell keeps its code, less the directive
    assert 'id="thing.run"' in a and 'class="float-right reference external"' in a and 'target="_blank"' in a
    assert 'admonition note' in a and ':::' not in a
    assert '\\[a^2\\]' in a and '\\[\\sum_i x_i\\]' in a and '\\(y = x_1\\)' in a and '$$' not in a and '$y' not in a   # MathJax's delimiters
    assert len(re.findall(r'<img [^>]*src="_images/', a)) == 2
    assert re.search(r'href="a.html#[^"]+">the API entry', b.replace('<span class="std std-ref">', '')) or 'href="a.html#thing.run"' in b, b
    assert 'href="a.html">' in b and 'example.github.io' not in b
    assert re.search(r'href="a.html#custom-id"', index)
    for name, text in (('index.html', index), ('a.html', a), ('b.html', b)):
        assert _sidebar_links(text, name) == ['index.html', 'b.html', 'a.html'], (name, _sidebar_links(text, name))
    assert 'Part two first' in index


def test_build_fails_on_a_broken_cross_link(tmp_path):
    "A link to a notebook that does not exist fails the build, and the last line says so."
    if [m for m in DOCS_MODULES if importlib.util.find_spec(m) is None]:
        _unavailable('docs extra not installed: pip install -e ".[docs]"')
    proc = _mini_proc(tmp_path / 'proc', extra_link=' And [a lost lesson](07_lost.ipynb).')
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--proc', str(proc), '--out', str(tmp_path / 'site')],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith('build_docs: error:') and '07_lost.ipynb' in last and 'index.ipynb' in last, r.stderr[-3000:]


# ------------------------------------------------------------------------------------------------------ the browser
def _browser():
    "Debian's Chromium and its driver through selenium, headless, with the console log kept."
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable('selenium not installed: pip install -e ".[docs]"')
    chrome = next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(n)), None)
    driver = shutil.which('chromedriver') or next((p for p in ('/usr/lib/chromium/chromedriver',) if Path(p).exists()), None)
    if not chrome or not driver:
        _unavailable('Chromium or its driver not installed: apt-get install -y chromium chromium-driver')
    os.environ.setdefault('SE_OFFLINE', 'true')          # Selenium Manager must not try to download a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--window-size=1400,1800',
              '--disable-extensions', '--no-first-run', '--disable-background-networking'):
        opts.add_argument(a)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    try:
        d = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    except Exception as e:                            # a driver that does not match the browser, a crash at start
        pytest.fail(f'Chromium did not start through {driver}: {str(e).splitlines()[0]}')
    d.set_page_load_timeout(120); d.set_script_timeout(120)
    return d


@pytest.fixture(scope='module')
def served(site):
    "The site over HTTP on 127.0.0.1 (a free port), as a browser sees a published site; stopped afterwards."
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(site)))
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    try:
        yield f'http://127.0.0.1:{srv.server_port}/'
    finally:
        srv.shutdown(); srv.server_close(); t.join(10)


SETTLE = """
const done = arguments[arguments.length - 1];
for (const img of document.images) img.loading = 'eager';
const imgs = Promise.all([...document.images].map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
const math = (window.MathJax && MathJax.startup && MathJax.startup.promise) || Promise.resolve();
Promise.all([imgs, math]).then(() => done(true), e => done('MathJax failed: ' + e));
"""

INSPECT = """
const visible = document.body.cloneNode(true);
visible.querySelectorAll('pre, code, script, style, mjx-container, mjx-assistive-mml, .headerlink').forEach(e => e.remove());
return {
  ids: [...document.querySelectorAll('[id]')].map(e => e.id).concat([...document.querySelectorAll('a[name]')].map(e => e.name)),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  badImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  images: document.images.length,
  typeset: document.querySelectorAll('mjx-container').length,
  untypeset: [...document.querySelectorAll('.math')].filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 60)),
  mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 60)),
  text: visible.innerText,
  nav: [...document.querySelectorAll('.sidebar-tree a.reference')].map(a => a.href),
  captions: [...document.querySelectorAll('.sidebar-tree p.caption')].map(p => p.innerText.trim()),
};
"""
RAW_MATH = re.compile(r'\$\$|\\\(|\\\)|\\\[|\\\]|(?<![\w$])\$[^$\s][^$\n]*?[\\^_{][^$\n]*?[^\s$]\$')


def test_every_page_in_chromium(served, site, proc_dir):
    """Open every page of the site in headless Chromium and check what a reader would see: every image loaded,
    math typeset where the notebook has LaTeX (MathJax output present, no MathJax error, no raw `$$`/`\\(` left in
    the visible text), no SEVERE console error, the sidebar lists the pages and sections in the order of
    nbs/sidebar.yml, and every link inside the site lands on a page and an anchor that exist."""
    groups = _sidebar()
    expected_nav = [_page_of(proc_dir, f) for _, fs in groups for f in fs]
    expected_captions = [s for s, _ in groups if s]
    latex = {_page_of(proc_dir, p.name) for p in proc_dir.glob('*.ipynb') if _has_latex(json.loads(p.read_text()))}
    assert latex, 'no processed notebook has $…$ math: the math checks below would check nothing'
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html'))
    assert set(expected_nav) <= set(pages), f'sidebar pages missing from the site: {set(expected_nav) - set(pages)}'
    d = _browser()
    problems, ids, links, typeset_pages = [], {}, [], set()
    try:
        for page in pages:
            url = urljoin(served, page)
            d.get(url)
            settled = d.execute_async_script(SETTLE)
            if settled is not True: problems.append(f'{page}: {settled}')
            r = d.execute_script(INSPECT)
            ids[page] = set(r['ids'])
            links += [(page, l) for l in r['links']]
            if r['badImages']: problems.append(f'{page}: images that did not load: {r["badImages"][:5]}')
            if r['mathErrors']: problems.append(f'{page}: MathJax errors: {r["mathErrors"][:5]}')
            if r['untypeset']: problems.append(f'{page}: math not typeset: {r["untypeset"][:5]}')
            if r['typeset']: typeset_pages.add(page)
            if page in latex and not r['typeset']: problems.append(f'{page}: its notebook has LaTeX but nothing was typeset')
            raw = RAW_MATH.findall(r['text'])
            if raw: problems.append(f'{page}: raw LaTeX left in the visible text: {raw[:5]}')
            severe = [e['message'] for e in d.get_log('browser') if e.get('level') == 'SEVERE']
            if severe: problems.append(f'{page}: SEVERE console messages: {severe[:5]}')
            nav = [Path(urlsplit(h).path).name or 'index.html' for h in r['nav']]
            if nav != expected_nav: problems.append(f'{page}: sidebar order {nav} != nbs/sidebar.yml {expected_nav}')
            if r['captions'] != expected_captions:
                problems.append(f'{page}: sidebar sections {r["captions"]} != nbs/sidebar.yml {expected_captions}')
            if page == 'selective_scan.html' and os.environ.get('VMDDPM_SITE_SCREENSHOT'):
                d.save_screenshot(os.environ['VMDDPM_SITE_SCREENSHOT'])
    finally:
        d.quit()
    origin = urlsplit(served).netloc
    for page, href in links:
        u = urlsplit(href)
        if u.netloc != origin:
            if href.startswith(('https://vmddpm-nb.github.io/vmddpm_nb/',)):
                problems.append(f'{page}: {href} points at the published site instead of this page')
            continue
        target = unquote(u.path.lstrip('/')) or 'index.html'
        if target.endswith('/'): target += 'index.html'
        if not (site / target).exists(): problems.append(f'{page}: link to missing {target}')
        elif u.fragment and target in ids and unquote(u.fragment) not in ids[target]:
            problems.append(f'{page}: link to missing anchor {target}#{u.fragment}')
    assert not problems, f'{len(problems)} problem(s) on {len(pages)} pages:\n' + '\n'.join(problems[:60])
